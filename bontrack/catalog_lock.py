"""Record the catalog data's content hash beside its version (``make catalog-lock``).

The test suite fails when the data files change and the lock does not; this refuses to re-lock
changed data under the same version, so every change of clinical data gets a new version.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bontrack.domain.catalog.load import (
    LOCK_FILE,
    content_hash,
    packaged_texts,
    parse_catalog,
    read_lock,
)

LOCK_PATH = Path(__file__).parent / "domain" / "catalog" / "data" / LOCK_FILE


def main() -> int:
    texts = packaged_texts()
    version = parse_catalog(texts).version
    digest = content_hash(texts)
    if LOCK_PATH.exists():
        old = read_lock()
        if old["sha256"] == digest and old["version"] == version:
            print(f"catalog {version}: lock is up to date")
            return 0
        if old["version"] == version:
            print(
                f"catalog data changed but its version is still {version}: bump `version` in "
                "catalog.toml first",
                file=sys.stderr,
            )
            return 1
    LOCK_PATH.write_text(
        "# Written by `make catalog-lock`; a test compares it with the data files.\n"
        f'version = "{version}"\nsha256 = "{digest}"\n',
        encoding="utf-8",
    )
    print(f"catalog {version}: locked {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
