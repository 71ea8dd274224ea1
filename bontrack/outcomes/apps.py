from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "bontrack.outcomes"
    label = "outcomes"
