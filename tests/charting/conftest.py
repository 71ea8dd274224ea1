"""The clinical file storage in a temporary folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clinical_files(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = tmp_path / "clinical-files"
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "clinical": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": "/nowhere/"},
        },
    }
    return folder
