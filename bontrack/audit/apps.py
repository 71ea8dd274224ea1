from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "bontrack.audit"
    label = "audit"

    def ready(self) -> None:
        from bontrack.audit.triggers import install_triggers

        # A migration that rebuilds a SQLite table drops its triggers: re-create them every time.
        post_migrate.connect(install_triggers, dispatch_uid="bontrack-append-only-triggers")
