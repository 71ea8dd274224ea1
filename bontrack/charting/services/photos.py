"""Clinical photos: upload (checked, stripped of metadata, thumbnailed once), list, read (each
read of a file is audited), and compare the same view at two dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import IO
from uuid import UUID

from bontrack.access import PATIENT, PHOTO, SESSION, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.charting.images import ImageRejectedError, clean_photo
from bontrack.charting.models import TIMEPOINTS, Photo
from bontrack.charting.services import storage
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of

# Photos taken before the treatment of their day, and after it.
BEFORE = ("baseline", "before")


def photo_views(indication: str) -> list[tuple[str, str]]:
    found = catalog().indications.get(indication)
    return [(v.code, v.name) for v in found.photo_views] if found is not None else []


def view_name(indication: str, view: str) -> str:
    return dict(photo_views(indication)).get(view, view)


def upload_photo(
    actor: Actor,
    patient_id: UUID | str,
    *,
    upload: IO[bytes],
    size: int | None,
    indication: str,
    view: str,
    timepoint: str,
    taken_on: date,
    today: date,
    session_id: UUID | str | None = None,
) -> Photo:
    """Check and store one photo; a bad upload stores nothing and says why (field ``photo``)."""
    require(actor, Perm.PLAN_WRITE)
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    views = dict(photo_views(indication))
    if not views:
        raise ServiceError("view", f"the catalog names no photo views for {indication}")
    if view not in views:
        raise ServiceError("view", f"{indication} is photographed {', '.join(views)}, not {view}")
    if timepoint not in TIMEPOINTS:
        raise ServiceError("timepoint", f"must be one of {', '.join(TIMEPOINTS)}")
    if taken_on > today:
        raise ServiceError("taken_on", "is in the future")
    try:
        clean = clean_photo(upload, size)
    except ImageRejectedError as error:
        raise ServiceError("photo", f"nothing was stored: {error}") from None
    with storage.saved_files() as written, clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        session = None
        if session_id:
            session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
            if session.patient_id != patient.id or session.indication != indication:
                raise ServiceError(
                    "session_id", "the session is not this patient's, or not of this indication"
                )
        clinic = actor.membership.clinic_id
        photo = Photo.objects.create(
            clinic_id=clinic,
            patient=patient,
            indication=indication,
            session=session,
            timepoint=timepoint,
            view=view,
            taken_on=taken_on,
            file_name=storage.save(written, storage.new_name("photos", clinic, ".jpg"), clean.jpeg),
            thumbnail_name=storage.save(
                written, storage.new_name("photos", clinic, ".thumb.jpg"), clean.thumbnail
            ),
            width=clean.width,
            height=clean.height,
            size_bytes=len(clean.jpeg),
            sha256=clean.sha256,
            original_format=clean.original_format,
            uploaded_by=actor.membership,
        )
        trail.record(
            "create",
            "photo",
            photo.id,
            patient.id,
            view=view,
            timepoint=timepoint,
            sha256=clean.sha256,
        )
    return photo


def read_photo_file(
    actor: Actor, photo_id: UUID | str, *, thumbnail: bool = False
) -> tuple[Photo, bytes]:
    """The stored JPEG (or its thumbnail), through the funnel; one read entry per file served."""
    with clinical_transaction(actor) as trail:
        photo = access(actor, PHOTO, photo_id, Perm.CHART_READ)
        data = storage.read(photo.thumbnail_name if thumbnail else photo.file_name)
        trail.record(
            "read", "photo-thumbnail" if thumbnail else "photo", photo.id, photo.patient_id
        )
    return photo, data


def list_photos(actor: Actor, patient_id: UUID | str, indication: str | None = None) -> list[Photo]:
    """The patient's photos, oldest first; one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        rows = Photo.objects.filter(clinic_id=patient.clinic_id, patient=patient)
        if indication:
            rows = rows.filter(indication=indication)
        photos = list(
            rows.prefetch_related(
                prefetch_in_clinic("session", TreatmentSession, patient.clinic_id)
            ).order_by("taken_on", "created_at")
        )
        trail.record("read", "photo-list", patient.id, patient.id, count=len(photos))
    return photos


def _order(photo: Photo) -> tuple[date, int]:
    return (photo.taken_on, 0 if photo.timepoint in BEFORE else 1)


def sessions_between(earlier: Photo, later: Photo) -> list[TreatmentSession]:
    """The signed sessions of the indication given after the earlier photo and before the later
    one: on the earlier photo's day only when it was taken before treatment, on the later one's
    only when it was taken after."""
    rows = (
        TreatmentSession.objects.filter(
            clinic_id=earlier.clinic_id,
            patient_id=earlier.patient_id,
            indication=earlier.indication,
            signed_at__isnull=False,
            plan_date__gte=earlier.taken_on,
            plan_date__lte=later.taken_on,
        )
        .select_related("injector__user", "signed_by")
        .prefetch_related("injections", "events")
        .order_by("plan_date", "administered_at")
    )
    found = []
    for s in rows:
        if not counts_toward_limits(status_of(s)):
            continue
        if s.plan_date == earlier.taken_on and earlier.timepoint not in BEFORE:
            continue
        if s.plan_date == later.taken_on and later.timepoint in BEFORE:
            continue
        found.append(s)
    return found


@dataclass(frozen=True)
class Comparison:
    indication: str
    view: str
    series: list[Photo]  # one photo of the view per treatment visit (taken before), oldest first
    others: list[Photo]  # the view's photos taken after treatment or at follow-up
    earlier: Photo | None
    later: Photo | None
    between: list[TreatmentSession]
    every: list[Photo]  # all the view's photos, oldest first: either side may be any of them


def per_visit(photos: list[Photo]) -> list[Photo]:
    """One photo per day: the first taken before treatment where there is one (a visit's starting
    point), else the day's latest."""
    days: dict[date, list[Photo]] = {}
    for p in sorted(photos, key=lambda p: (p.taken_on, p.created_at)):
        days.setdefault(p.taken_on, []).append(p)
    chosen = []
    for day in sorted(days):
        before = [p for p in days[day] if p.timepoint in BEFORE]
        chosen.append(before[0] if before else days[day][-1])
    return chosen


def compare(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    view: str,
    first_id: UUID | str | None = None,
    second_id: UUID | str | None = None,
) -> Comparison:
    """The same view at two dates (by default the first and the last visit), every visit's photo
    of the view, and the sessions given in between; one read entry."""
    if view not in dict(photo_views(indication)):
        raise ServiceError("view", f"{view!r} is not a photo view of {indication}")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        photos = list(
            Photo.objects.filter(
                clinic_id=patient.clinic_id, patient=patient, indication=indication, view=view
            ).order_by("taken_on", "created_at")
        )
        picked = []
        for field, chosen in (("a", first_id), ("b", second_id)):
            if not chosen:
                continue
            found = next((p for p in photos if str(p.id) == str(chosen)), None)
            if found is None:
                access(actor, PHOTO, chosen, Perm.CHART_READ)  # another clinic's: 404, logged
                raise ServiceError(field, "that photo is not of this patient, indication and view")
            picked.append(found)
        starts = [p for p in photos if p.timepoint in BEFORE]
        series = per_visit(starts or photos)
        others = [p for p in photos if p not in series and (starts and p.timepoint not in BEFORE)]
        if len(picked) == 2 and picked[0].id == picked[1].id:
            raise ServiceError("b", "pick two different photos to compare")
        if not picked:
            picked = _default_pair(series, others, photos)
        elif len(picked) == 1:
            # The other side: the last visit's photo, the latest after-treatment photo, or the
            # first visit's, whichever is not the one picked.
            pool = series[-1:] + others[-1:] + series[:1] + photos
            other = [p for p in pool if p.id != picked[0].id]
            picked += other[:1]
        ordered = sorted(picked, key=_order)
        earlier = ordered[0] if ordered else None
        later = ordered[1] if len(ordered) > 1 else None
        between = sessions_between(earlier, later) if earlier and later else []
        trail.record("read", "photo-compare", patient.id, patient.id, view=view)
    return Comparison(indication, view, series, others, earlier, later, between, photos)


def _default_pair(series: list[Photo], others: list[Photo], photos: list[Photo]) -> list[Photo]:
    """The first and the last visit; with a single visit, its photo before treatment and the
    latest taken after it; else the first and the last photo of the view."""
    if len(series) >= 2:
        return [series[0], series[-1]]
    if series and others:
        return [series[0], others[-1]]
    return [photos[0], photos[-1]] if len(photos) >= 2 else []
