from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "bontrack.security"
    label = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bontrack.security import signals  # noqa: F401 (connects the receivers)
        from bontrack.security.storable import connect

        connect()
