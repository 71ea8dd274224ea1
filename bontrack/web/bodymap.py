"""The body map: where each injection point is drawn, from the catalog's site coordinates.

Three views (face 0 0 200 240, front and back 0 0 200 440). Several points at one site and side
share the catalog's coordinates, so they are fanned out around it to stay clickable.

The plan editor's views are laid out for fingers in gloves: each view is drawn at a fixed width
(EDITOR_PX CSS pixels, set in app.css), cropped around its points so that they are drawn large,
and every point or empty site is a circle of at least TARGET_PX CSS pixels. Circles that would
cover one another are pushed apart until no two of their squares overlap, each keeping a thin
line to its place on the body.
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


# The width in CSS pixels at which the editor draws each view (app.css: .bodymap.fixed is this
# plus its 1 px borders), and the smallest touch target (WCAG 2.5.5 asks for 44 px; 2 px spare).
EDITOR_PX = 316.0
TARGET_PX = 46.0
# Gap between two pushed-apart targets, in CSS pixels.
TARGET_GAP_PX = 3.0
READABLE_RADIUS = 7.5


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
    r: float = READABLE_RADIUS
    # Where on the body the point is, when the circle had to be drawn away from it.
    anchor_x: float | None = None
    anchor_y: float | None = None


@dataclass(frozen=True)
class Ghost:
    """A site of the indication with no point yet: a click offers to add one."""

    site: str
    side: str
    x: float
    y: float
    label: str
    r: float = 5.5
    anchor_x: float | None = None
    anchor_y: float | None = None

    @property
    def font(self) -> float:
        """The size of its "+"."""
        return round(1.45 * self.r, 1)


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
    # Drawn at a fixed width for touch (the plan editor), not stretched to its column.
    fixed: bool = False

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


def _font(text: str, radius: float) -> float:
    """A size at which ``text`` fits inside a circle of ``radius`` (digits are about 0.6 em)."""
    return round(min(0.95 * radius, 1.55 * radius / (0.6 * max(len(text), 1))), 2)


def _crop_for_touch(
    code: str, width: int, height: int, xs: list[float], ys: list[float]
) -> tuple[float, float, float]:
    """The crop of a view for the editor: left edge, width and the target radius (in the view's
    units). The crop is symmetric about the midline so that the body stays centred, and as narrow
    as the points allow, since a narrower crop is drawn larger."""
    reach = max((abs(x - width / 2) for x in xs), default=width / 2)
    crop = width
    for _ in range(4):
        radius = TARGET_PX / 2 * crop / EDITOR_PX
        crop = min(float(width), max(0.6 * width, 2 * (reach + 2.2 * radius)))
    radius = TARGET_PX / 2 * crop / EDITOR_PX
    return (width - crop) / 2, crop, radius


def _spread(
    places: list[tuple[float, float]], side_of: list[int], left: float, crop: float, radius: float
) -> list[tuple[float, float]]:
    """Circles of ``radius`` at ``places``, pushed apart until no two of their bounding squares
    overlap: each overlapping pair moves apart along the axis where it overlaps least, while a
    weak pull keeps each near its place on the body. Deterministic: the same plan draws the same
    map. ``side_of`` breaks ties between circles drawn on one spot (-1 left of the viewer, +1
    right, 0 midline)."""
    gap = TARGET_GAP_PX * crop / EDITOR_PX
    span = 2 * radius + gap
    low, high = left + radius + 1, left + crop - radius - 1
    at = [[min(max(x, low), high), y] for x, y in places]
    for step in range(900):
        pull = 0.04 if step < 500 else 0.0
        if pull:
            for k, (x, y) in enumerate(places):
                at[k][0] += pull * (x - at[k][0])
                at[k][1] += pull * (y - at[k][1])
        moved = False
        for i in range(len(at)):
            for j in range(i + 1, len(at)):
                dx = at[j][0] - at[i][0]
                dy = at[j][1] - at[i][1]
                over_x, over_y = span - abs(dx), span - abs(dy)
                if over_x <= 0 or over_y <= 0:
                    continue
                moved = True
                sign = math.copysign(1, dx) if dx else (1 if side_of[j] >= side_of[i] else -1)
                # Against the edge of the crop a circle cannot move sideways: up or down then.
                walled = (
                    min(at[i][0], at[j][0]) - over_x / 2 < low
                    or max(at[i][0], at[j][0]) + over_x / 2 > high
                )
                if over_x < over_y and not walled:
                    at[i][0] -= sign * over_x / 2
                    at[j][0] += sign * over_x / 2
                else:
                    sign = math.copysign(1, dy) if dy else 1
                    at[i][1] -= sign * over_y / 2
                    at[j][1] += sign * over_y / 2
        for point in at:
            point[0] = min(max(point[0], low), high)
        if not moved and not pull:
            break
    return [(round(x, 2), round(y, 2)) for x, y in at]


def _lay_out_for_touch(
    code: str, width: int, height: int, markers: list[Marker], ghosts: list[Ghost]
) -> tuple[list[Marker], list[Ghost], tuple[float, float, float, float]]:
    places = [(m.x, m.y) for m in markers] + [(g.x, g.y) for g in ghosts]
    if not places:
        return markers, ghosts, _box(code, width, height, [])
    left, crop, radius = _crop_for_touch(
        code, width, height, [x for x, _ in places], [y for _, y in places]
    )
    sides = [0 if abs(x - width / 2) < 0.5 else (1 if x > width / 2 else -1) for x, _ in places]
    spread = _spread(places, sides, left, crop, radius)
    ys = [y for _, y in spread]
    margin = radius + 6 * crop / EDITOR_PX
    top = min(min(ys) - margin, min(y for _, y in places) - margin)
    bottom = max(max(ys) + margin, max(y for _, y in places) + margin)
    if bottom - top < 0.9 * crop:  # not a thin strip: keep some of the body around the points
        middle = (top + bottom) / 2
        top, bottom = middle - 0.45 * crop, middle + 0.45 * crop
    box = (round(left, 1), round(top, 1), round(crop, 1), round(bottom - top, 1))

    def moved(x: float, y: float, nx: float, ny: float) -> tuple[float | None, float | None]:
        return (x, y) if math.hypot(nx - x, ny - y) > 0.5 * radius else (None, None)

    laid_markers = []
    for m, (nx, ny) in zip(markers, spread, strict=False):
        ax, ay = moved(m.x, m.y, nx, ny)
        laid_markers.append(
            Marker(
                index=m.index,
                site=m.site,
                side=m.side,
                units=m.units,
                x=nx,
                y=ny,
                flagged=m.flagged,
                label=m.label,
                font=_font(m.units, radius),
                r=round(radius, 2),
                anchor_x=ax,
                anchor_y=ay,
            )
        )
    laid_ghosts = []
    for g, (nx, ny) in zip(ghosts, spread[len(markers) :], strict=True):
        ax, ay = moved(g.x, g.y, nx, ny)
        laid_ghosts.append(
            Ghost(g.site, g.side, nx, ny, g.label, r=round(radius, 2), anchor_x=ax, anchor_y=ay)
        )
    return laid_markers, laid_ghosts, box


def views(
    points: Sequence[tuple[str, str, Decimal]],
    flagged: Iterable[tuple[str, str]] = (),
    ghost_sites: Iterable[str] = (),
    only_used: bool = True,
    for_touch: bool = False,
) -> list[View]:
    """Markers for ``points`` (site, side, units) on each view, plus faint ghosts for
    ``ghost_sites`` (site codes) on sides that have no point yet. With ``only_used``, the views
    without a marker or ghost are left out (all three when none has any). ``for_touch`` lays the
    views out for the editor (see the module's docstring)."""
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
    drawn = []
    for code, title, width, height in VIEWS:
        markers, view_ghosts = list(by_view[code]), list(ghosts[code])
        if for_touch:
            markers, view_ghosts, box = _lay_out_for_touch(
                code, width, height, markers, view_ghosts
            )
        else:
            box = _box(code, width, height, [m.y for m in markers] + [g.y for g in view_ghosts])
        drawn.append(
            View(
                code,
                title,
                width,
                height,
                tuple(markers),
                tuple(view_ghosts),
                left_on_right=code != "back",
                box=box,
                fixed=for_touch,
            )
        )
    used = [v for v in drawn if v.markers or v.ghosts]
    return used if only_used and used else drawn
