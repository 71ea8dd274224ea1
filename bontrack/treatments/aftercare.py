"""Aftercare the patient takes home, and the starting headings of a procedure note, per
indication (data/aftercare.toml: versioned wording, each item with its source)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data") / "aftercare.toml"


@dataclass(frozen=True)
class Item:
    text: str
    source: str
    urgent: bool = False


@dataclass(frozen=True)
class Sheet:
    """What the printed aftercare page says after a treatment for one indication."""

    version: str
    general: tuple[Item, ...]
    watch: tuple[Item, ...]
    examination: str

    @property
    def urgent(self) -> tuple[Item, ...]:
        return tuple(i for i in self.general if i.urgent)

    @property
    def usual(self) -> tuple[Item, ...]:
        """The indication's own items first, then the general ones that are not urgent."""
        return self.watch + tuple(i for i in self.general if not i.urgent)


@cache
def _data() -> dict[str, object]:
    with DATA.open("rb") as handle:
        return tomllib.load(handle)


def sheet(indication: str) -> Sheet:
    data = _data()
    general = tuple(
        Item(i["text"], i["source"], bool(i.get("urgent", False)))
        for i in data["general"]  # type: ignore[attr-defined]
    )  # type: ignore[attr-defined]
    own = data.get("indication", {}).get(indication, {})  # type: ignore[attr-defined]
    watch = tuple(Item(text, own["source"]) for text in own.get("watch", ()))
    return Sheet(str(data["version"]), general, watch, str(own.get("examination", "")))


def note_template(indication: str) -> str:
    """The headings a note starts from: what was examined (with this indication's prompts), the
    technique in words, how it was tolerated, and the aftercare given."""
    found = sheet(indication)
    examine = f" ({found.examination})" if found.examination else ""
    return "\n".join(
        [
            f"Examination{examine}: ",
            "Technique (landmarks, how the muscles were localised): ",
            "Tolerance (during and after the injections): ",
            "Aftercare: the printed aftercare sheet was given and explained.",
        ]
    )
