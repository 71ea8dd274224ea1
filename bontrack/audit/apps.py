from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class AuditConfig(AppConfig):
    name = "bontrack.audit"
    label = "audit"

    def ready(self) -> None:
        from bontrack.audit.triggers import install_triggers, lift_for_migrations

        # A migration that rebuilds a SQLite table drops its triggers, and cannot rename a table
        # another trigger names: lift them before migrating, re-create them every time after.
        pre_migrate.connect(lift_for_migrations, dispatch_uid="bontrack-lift-triggers-to-migrate")
        post_migrate.connect(install_triggers, dispatch_uid="bontrack-append-only-triggers")
