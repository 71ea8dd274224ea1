"""The catalog: clinical reference data (products, indications, protocols, sites, limits, scales).

The data lives in versioned TOML files under ``data/``; ``load.py`` validates them into the frozen
objects of ``model.py``. Every clinical number carries its source and confidence tag.
"""

from bontrack.domain.catalog.load import CatalogError, catalog

__all__ = ["CatalogError", "catalog"]
