"""Write the API's OpenAPI schema to docs/openapi.json (`make openapi`).

The committed file is what clients read; tests/api/test_openapi.py fails when it differs from the
schema the code generates.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def render() -> str:
    """The schema as sorted, indented JSON with a final newline (stable across runs)."""
    from bontrack.api.main import api

    return json.dumps(api.get_openapi_schema(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bontrack.settings")
    import django

    django.setup()
    text = render()
    if SCHEMA_FILE.exists() and SCHEMA_FILE.read_text(encoding="utf-8") == text:
        sys.stdout.write(f"{SCHEMA_FILE.name} is up to date\n")
        return 0
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
