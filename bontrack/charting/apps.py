from django.apps import AppConfig


class ChartingConfig(AppConfig):
    name = "bontrack.charting"
    label = "charting"
