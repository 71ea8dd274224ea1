from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from bontrack.api.main import api

urlpatterns = [
    # Until the clinician's pages land, the front door is the API's documentation.
    path("", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
