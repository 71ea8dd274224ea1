from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "bontrack.inventory"
    label = "inventory"
