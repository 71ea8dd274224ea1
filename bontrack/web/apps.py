from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bontrack.web"
    label = "web"
    verbose_name = "Clinician pages"

    def ready(self) -> None:
        from bontrack.web import signals  # noqa: F401  (connects the sign-in receivers)
