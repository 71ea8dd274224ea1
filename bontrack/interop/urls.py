"""/fhir: the CapabilityStatement, SMART backend services, bulk $export, $everything, search by
type, read by id; any other path is a 404 OperationOutcome (never the pages' HTML)."""

from django.urls import path, re_path

from bontrack.interop import bulk_views, fhir_views

urlpatterns = [
    path("metadata", fhir_views.metadata, name="fhir-metadata"),
    # SMART Backend Services and Bulk Data $export (bulk_views.py).
    path(".well-known/smart-configuration", bulk_views.smart_configuration),
    path("auth/token", bulk_views.token, name="fhir-token"),
    re_path(r"^\$export$", bulk_views.export_system),
    re_path(r"^Patient/\$export$", bulk_views.export_patients),
    re_path(r"^Group/(?P<group_id>[^/]+)/\$export$", bulk_views.export_group),
    path("bulk/<uuid:job_id>", bulk_views.status),
    path("bulk/<uuid:job_id>/<str:name>.ndjson", bulk_views.download),
    re_path(r"^Patient/(?P<patient_id>[^/]+)/\$everything$", fhir_views.everything),
    # bontrack's own terminology at its canonical URLs (definitions.py).
    re_path(
        r"^(?P<kind>CodeSystem|StructureDefinition|SearchParameter)/(?P<name>[a-z0-9-]+(?:/[a-z0-9-]+)?)$",
        fhir_views.published,
    ),
    re_path(r"^(?P<resource_type>[A-Za-z]+)/_search$", fhir_views.post_search),
    re_path(r"^(?P<resource_type>[A-Za-z]+)$", fhir_views.search),
    re_path(r"^(?P<resource_type>[A-Za-z]+)/(?P<resource_id>[^/]+)$", fhir_views.read),
    re_path(r"^(?P<path>.*)$", fhir_views.unknown),
]
