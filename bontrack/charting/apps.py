from django.apps import AppConfig


class ChartingConfig(AppConfig):
    name = "bontrack.charting"
    label = "charting"

    def ready(self) -> None:
        from bontrack.charting.services.appointments import complete_on_signing
        from bontrack.treatments.signals import session_signed

        session_signed.connect(complete_on_signing, dispatch_uid="complete-appointment-on-signing")
