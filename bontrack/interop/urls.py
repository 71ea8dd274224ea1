"""/fhir: the CapabilityStatement, $everything, search by type, read by id; any other path is a
404 OperationOutcome (never the pages' HTML)."""

from django.urls import path, re_path

from bontrack.interop import fhir_views

urlpatterns = [
    path("metadata", fhir_views.metadata, name="fhir-metadata"),
    re_path(r"^Patient/(?P<patient_id>[^/]+)/\$everything$", fhir_views.everything),
    re_path(r"^(?P<resource_type>[A-Za-z]+)$", fhir_views.search),
    re_path(r"^(?P<resource_type>[A-Za-z]+)/(?P<resource_id>[^/]+)$", fhir_views.read),
    re_path(r"^(?P<path>.*)$", fhir_views.unknown),
]
