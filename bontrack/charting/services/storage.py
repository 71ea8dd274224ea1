"""The clinical file storage (Django's storage API; settings.STORAGES["clinical"])."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages


def clinical_storage() -> Storage:
    return storages["clinical"]


def new_name(folder: str, clinic_id: object, suffix: str) -> str:
    """A random name: nothing about the patient, nothing to guess."""
    return f"{folder}/{clinic_id}/{uuid.uuid4().hex}{suffix}"


@contextmanager
def saved_files() -> Iterator[list[str]]:
    """Files written inside a transaction are deleted again when it fails."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        storage = clinical_storage()
        for name in written:
            storage.delete(name)
        raise


def save(written: list[str], name: str, data: bytes) -> str:
    stored = clinical_storage().save(name, ContentFile(data))
    written.append(stored)
    return stored


def read(name: str) -> bytes:
    with clinical_storage().open(name, "rb") as handle:
        return bytes(handle.read())
