"""The body map: where each injection point is drawn, from the catalog's site coordinates.

Three views (face 0 0 200 240, front and back 0 0 200 440). Several points at one site and side
share the catalog's coordinates, so they are fanned out around it to stay clickable.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bontrack.domain.catalog import catalog
from bontrack.domain.units import format_decimal

VIEWS = (
    ("face", "Face", 200, 240),
    ("front", "Front", 200, 440),
    ("back", "Back", 200, 440),
)
MIDLINE_GAP = 8.0


@dataclass(frozen=True)
class Marker:
    index: int  # position in the plan's list of points
    site: str
    side: str
    units: str
    x: float
    y: float
    flagged: bool  # a finding names this site and side
    label: str
    font: float


@dataclass(frozen=True)
class Ghost:
    """A site of the indication with no point yet: a click offers to add one."""

    site: str
    side: str
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class View:
    code: str
    title: str
    width: int
    height: int
    markers: tuple[Marker, ...]
    ghosts: tuple[Ghost, ...]
    left_on_right: bool  # face and front: the patient's left is on the viewer's right
    # The part of the view drawn: a whole-body view is cropped to where its points are.
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def viewbox(self) -> str:
        return " ".join(f"{v:g}" for v in self.box)

    @property
    def aspect(self) -> str:
        """Width over height: views laid side by side with these flex weights share a height."""
        return f"{self.box[2] / self.box[3]:.3f}"

    @property
    def label_left(self) -> tuple[float, float]:
        return self.box[0] + 5, self.box[1] + 14

    @property
    def label_right(self) -> tuple[float, float]:
        return self.box[0] + self.box[2] - 14, self.box[1] + 14


CROP_MARGIN = 34.0
MIN_CROP_HEIGHT = 220.0


def _box(code: str, width: int, height: int, ys: list[float]) -> tuple[float, float, float, float]:
    """The whole face; a whole-body view cropped (full width) to its points' height, with room."""
    if code == "face" or not ys:
        return (0.0, 0.0, float(width), float(height))
    top = max(0.0, min(ys) - CROP_MARGIN)
    bottom = min(float(height), max(ys) + CROP_MARGIN)
    if bottom - top < MIN_CROP_HEIGHT:
        middle = (top + bottom) / 2
        top = max(0.0, min(middle - MIN_CROP_HEIGHT / 2, height - MIN_CROP_HEIGHT))
        bottom = top + MIN_CROP_HEIGHT
    return (0.0, round(top, 1), float(width), round(bottom - top, 1))


def site_label(site: str, side: str) -> str:
    name = catalog().sites[site].name if site in catalog().sites else site
    return name if side == "midline" else f"{name} ({side})"


def _fan(count: int, k: int, outward: int) -> tuple[float, float]:
    """Offsets for the k-th of ``count`` points sharing one place: a full circle on the midline,
    else a half circle on the side away from the midline (``outward`` is -1 or +1), so that the
    left and right groups of a muscle do not cover each other."""
    if count == 1:
        return 0.0, 0.0
    radius = 8.0 + 2.0 * count
    if outward == 0:
        angle = 2 * math.pi * k / count - math.pi / 2
    else:
        # From straight up to straight down through the outer side.
        angle = -math.pi / 2 + math.pi * k / (count - 1)
        return outward * radius * math.cos(angle), radius * math.sin(angle)
    return radius * math.cos(angle), radius * math.sin(angle)


def views(
    points: Sequence[tuple[str, str, Decimal]],
    flagged: Iterable[tuple[str, str]] = (),
    ghost_sites: Iterable[str] = (),
    only_used: bool = True,
) -> list[View]:
    """Markers for ``points`` (site, side, units) on each view, plus faint ghosts for
    ``ghost_sites`` (site codes) on sides that have no point yet. With ``only_used``, the views
    without a marker or ghost are left out (all three when none has any)."""
    cat = catalog()
    flagged = set(flagged)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, (site, side, _) in enumerate(points):
        groups[(site, side)].append(n)
    by_view: dict[str, list[Marker]] = defaultdict(list)
    for (site, side), members in groups.items():
        where = cat.sites[site].points.get(side) if site in cat.sites else None
        if where is None:
            continue
        base_x = float(where.x)
        if side != "midline" and abs(base_x - 100) < MIDLINE_GAP:
            # Left and right points near the midline are drawn apart, so that both stay clickable.
            base_x = 100 + MIDLINE_GAP if base_x > 100 else 100 - MIDLINE_GAP
        for k, n in enumerate(members):
            dx, dy = _fan(len(members), k, 0 if base_x == 100 else (1 if base_x > 100 else -1))
            text = format_decimal(points[n][2])
            by_view[where.view].append(
                Marker(
                    index=n,
                    site=site,
                    side=side,
                    units=text,
                    x=round(base_x + dx, 2),
                    y=round(float(where.y) + dy, 2),
                    flagged=(site, side) in flagged,
                    label=site_label(site, side),
                    font=7.0 if len(text) <= 2 else (5.5 if len(text) <= 3 else 4.5),
                )
            )
    ghosts: dict[str, list[Ghost]] = defaultdict(list)
    for code in dict.fromkeys(ghost_sites):
        site = cat.sites.get(code)
        if site is None:
            continue
        for side, where in site.points.items():
            if (code, side) not in groups:
                ghosts[where.view].append(
                    Ghost(code, side, float(where.x), float(where.y), site_label(code, side))
                )
    drawn = [
        View(
            code,
            title,
            width,
            height,
            tuple(by_view[code]),
            tuple(ghosts[code]),
            left_on_right=code != "back",
            box=_box(
                code,
                width,
                height,
                [m.y for m in by_view[code]] + [g.y for g in ghosts[code]],
            ),
        )
        for code, title, width, height in VIEWS
    ]
    used = [v for v in drawn if v.markers or v.ghosts]
    return used if only_used and used else drawn
