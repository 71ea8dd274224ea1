from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "bontrack.patients"
    label = "patients"
