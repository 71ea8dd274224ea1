from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "bontrack.treatments"
    label = "treatments"
