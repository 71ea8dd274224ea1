"""Every row signing reads after the patient's lock, in one SQL statement.

Signing re-checks a plan against the patient's whole history and captures its charges: a dozen
tables. Read one query each, that is a dozen round trips per signature; here each table's rows
are selected as JSON objects (``json_build_object`` on PostgreSQL, ``json_object`` on SQLite)
under a tag, the selects joined with ``UNION ALL``, and the rows turned back into model instances
(``Model.from_db``) with the same values the ORM would give. Each select is an ordinary queryset,
so every table occurrence keeps its ``clinic_id`` filter (DESIGN 3.6).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field, Model, Q, QuerySet

from bontrack.accounts.models import Membership
from bontrack.audit.chain import GENESIS
from bontrack.audit.models import AuditEntry
from bontrack.billing.coverage import standing
from bontrack.billing.models import ChargeSet, Coverage
from bontrack.inventory.models import Lot, Vial, VialClosing
from bontrack.outcomes.models import Assessment, ContinueDespiteVerdict
from bontrack.patients.models import Consent, ConsentWithdrawal, Diagnosis
from bontrack.treatments.models import (
    FindingDecision,
    Injection,
    SessionEvent,
    SessionVial,
    TreatmentSession,
)


def _converter(f: Field[Any, Any]) -> Any:
    """How a value of this column reads back from JSON: as the ORM would give it."""
    target = f.target_field if f.is_relation else f  # type: ignore[attr-defined]
    kind = target.get_internal_type()
    if kind == "UUIDField":
        return lambda v: v if isinstance(v, UUID) else UUID(str(v))
    if kind == "DecimalField":
        places = target.decimal_places  # type: ignore[attr-defined]
        return lambda v: Decimal(str(v)).quantize(Decimal(1).scaleb(-places))
    if kind == "DateTimeField":
        return _moment
    if kind == "DateField":
        return lambda v: date.fromisoformat(str(v)[:10])
    if kind == "BooleanField":
        return bool
    return None


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Shape:
    model: type[Model]
    fields: tuple[Field[Any, Any], ...]
    converters: tuple[Any, ...]


def _shape(model: type[Model], only: Sequence[str] = ()) -> _Shape:
    fields = tuple(f for f in model._meta.concrete_fields if not only or f.attname in only)
    return _Shape(model, fields, tuple(_converter(f) for f in fields))


def _select(tag: str, rows: QuerySet[Any], shape: _Shape) -> tuple[str, list[Any]]:
    """One tagged branch: the queryset's rows as JSON objects keyed by attribute name."""
    postgres = connection.vendor == "postgresql"
    pairs = []
    for f in shape.fields:
        column = connection.ops.quote_name(f.column)
        value = f"r.{column}"
        if f.get_internal_type() == "JSONField" and not postgres:
            value = f"json({value})"  # SQLite keeps JSON as text: embed it, not a string of it
        pairs.append(f"'{f.attname}', {value}")
    build = "json_build_object" if postgres else "json_object"
    inner, params = rows.values_list(*(f.attname for f in shape.fields)).query.sql_with_params()
    return f"SELECT '{tag}', {build}({', '.join(pairs)}) FROM ({inner}) r", list(params)


@dataclass(frozen=True)
class Together:
    """The statement of ``read_together``, compiled: its SQL, its parameters and the shape of
    each tag's rows."""

    sql: str
    params: tuple[Any, ...]
    shapes: Mapping[str, _Shape]


def compile_together(
    selects: Mapping[str, QuerySet[Any]], only: Mapping[str, Sequence[str]] | None = None
) -> Together:
    shapes = {tag: _shape(rows.model, (only or {}).get(tag, ())) for tag, rows in selects.items()}
    parts, params = [], []
    for tag, rows in selects.items():
        sql, more = _select(tag, rows, shapes[tag])
        parts.append(sql)
        params += more
    return Together(" UNION ALL ".join(parts), tuple(params), shapes)


def read_together(
    selects: Mapping[str, QuerySet[Any]], only: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[Model]]:
    """The rows of several querysets (tag to queryset of one model), in one statement; ``only``
    names the fields read for a tag (the others are left deferred)."""
    return run_together(compile_together(selects, only))


def run_together(together: Together, params: Sequence[Any] | None = None) -> dict[str, list[Model]]:
    """Run a compiled ``read_together`` (with ``params`` in place of its own)."""
    shapes = together.shapes
    found: dict[str, list[Model]] = {tag: [] for tag in shapes}
    with connection.cursor() as cursor:
        cursor.execute(together.sql, list(together.params if params is None else params))
        fetched = cursor.fetchall()
    for tag, data in fetched:
        shape = shapes[tag]
        values = json.loads(data) if isinstance(data, str) else data
        row = []
        for f, convert in zip(shape.fields, shape.converters, strict=True):
            value = values.get(f.attname)
            row.append(convert(value) if convert is not None and value is not None else value)
        names = [f.attname for f in shape.fields]
        found[tag].append(shape.model.from_db(connection.alias, names, row))
    return found


def cache_related(instance: Model, name: str, rows: Iterable[Model]) -> None:
    """Give ``instance.<name>.all()`` (a reverse foreign key) these rows, as
    ``prefetch_related`` would."""
    cached = getattr(instance, name).get_queryset()
    cached._result_cache = list(rows)
    cached._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    instance._prefetched_objects_cache[name] = cached  # type: ignore[attr-defined]


@dataclass
class SigningRows:
    """What signing one session reads after the patient's lock: the patient's signed sessions
    (each with its points, records and vial rows), the session's own, the vials it names (with
    their lots and closings), its decisions, the members they name, the injector's supervisors,
    the patient's consents, assessments, verdict decisions, diagnoses and coverage for the
    session's indication, the session's charge sets and, when asked for, the clinic's audit
    chain head (seq and hash; ``(0, GENESIS)`` for an empty chain, None when not read)."""

    history: list[TreatmentSession]
    injections: dict[UUID, list[Injection]]
    events: dict[UUID, list[SessionEvent]]
    uses: dict[UUID, list[SessionVial]]
    vials: dict[UUID, Vial]
    closings: dict[UUID, VialClosing]
    decisions: list[FindingDecision]
    members: dict[UUID, Membership]
    supervisor_ids: list[UUID]
    consents: list[Consent]
    assessments: list[Assessment]
    continued: list[ContinueDespiteVerdict]
    diagnoses: list[Diagnosis]
    coverages: list[Coverage]
    charge_sets: list[ChargeSet]
    audit_head: tuple[int, str] | None


@dataclass(frozen=True)
class _Inputs:
    clinic: UUID
    patient: UUID
    session: UUID
    indication: str
    injector: UUID
    vials: tuple[UUID, ...]


def read_for_signing(
    session: TreatmentSession,
    injector: Membership,
    vial_ids: Sequence[UUID] = (),
    *,
    with_audit_head: bool = True,
) -> SigningRows:
    """The rows of ``SigningRows`` for ``session`` (a plan of its clinic, its patient locked).

    The statement is compiled once per engine and number of vials named, with placeholder
    values, and run with this session's (compiling it costs more than running it)."""
    given = _Inputs(
        session.clinic_id,
        session.patient_id,
        session.pk,
        session.indication,
        injector.pk,
        tuple(vial_ids),
    )
    key = (connection.vendor, len(given.vials), with_audit_head)
    compiled = _compiled.get(key)
    if compiled is None:
        placeholders = _Inputs(
            uuid4(),
            uuid4(),
            uuid4(),
            f"indication-{uuid4()}",
            uuid4(),
            tuple(uuid4() for _ in given.vials),
        )
        together = compile_together(
            _selects(placeholders, with_audit_head),
            {"user": ("id", "username", "first_name", "last_name")},
        )
        compiled = _compiled[key] = (together, _binder(placeholders, together))
    together, bind = compiled
    return _assemble(run_together(together, [bind(p, given) for p in together.params]))


_compiled: dict[tuple[str, int, bool], tuple[Together, Any]] = {}


# A stand-in input's spellings: (input, position among the vials, the same spelling of a value).
Spelling = tuple[str, int | None, Any]


def _spellings(placeholders: _Inputs) -> dict[Any, Spelling]:
    names: dict[Any, Spelling] = {}
    for name in ("clinic", "patient", "session", "injector"):
        value = getattr(placeholders, name)
        names[value] = (name, None, lambda v: v)
        names[value.hex] = (name, None, lambda v: v.hex)
        names[str(value)] = (name, None, str)
    for n, value in enumerate(placeholders.vials):
        names[value] = ("vials", n, lambda v: v)
        names[value.hex] = ("vials", n, lambda v: v.hex)
        names[str(value)] = ("vials", n, str)
    names[placeholders.indication] = ("indication", None, lambda v: v)
    return names


def _binder(placeholders: _Inputs, together: Together) -> Any:
    """How a compiled parameter becomes the given inputs': a placeholder, in whichever spelling
    the engine's parameters use (a UUID, 32 hex digits, or the dashed form), is replaced by the
    same input's value in that spelling; any other parameter is kept."""
    names = _spellings(placeholders)
    spelled = {str(n).replace("-", "") for n in names}
    # Every stand-in input must be a parameter of its own: one written into the SQL or into a
    # longer parameter could not be replaced.
    for text in (together.sql, *(p for p in together.params if isinstance(p, str))):
        plain = text.replace("-", "")
        if text not in names and any(word in plain for word in spelled):
            raise RuntimeError(f"a placeholder of the signing read is not a parameter: {text}")

    def bind(param: Any, given: _Inputs) -> Any:
        try:
            found = names.get(param)
        except TypeError:  # an unhashable parameter is never a stand-in input
            return param
        if found is None:
            return param
        name, index, spell = found
        value = getattr(given, name)
        return spell(value[index] if index is not None else value)

    return bind


def _selects(given: _Inputs, with_audit_head: bool) -> dict[str, QuerySet[Any]]:
    clinic, patient, indication = given.clinic, given.patient, given.indication
    signed = TreatmentSession.objects.filter(
        clinic_id=clinic, patient_id=patient, signed_at__isnull=False
    )
    mine = Q(session__signed_at__isnull=False) | Q(session_id=given.session)
    scope = {"clinic_id": clinic, "session__clinic_id": clinic, "session__patient_id": patient}
    own_vials = SessionVial.objects.filter(clinic_id=clinic, session_id=given.session)
    vials = Vial.objects.filter(
        Q(id__in=list(given.vials)) | Q(id__in=own_vials.values("vial_id")), clinic_id=clinic
    )
    member_ids = (
        Q(id__in=signed.values("injector_id"))
        | Q(id__in=signed.values("signed_by_id"))
        | Q(
            id__in=FindingDecision.objects.filter(
                clinic_id=clinic, session_id=given.session
            ).values("by_id")
        )
    )
    members = Membership.objects.filter(member_ids, clinic_id=clinic)
    of_indication = {"clinic_id": clinic, "patient_id": patient, "indication": indication}
    selects: dict[str, QuerySet[Any]] = {
        "session": signed.exclude(pk=given.session),
        "injection": Injection.objects.filter(mine, **scope),
        "event": SessionEvent.objects.filter(mine, **scope),
        "use": SessionVial.objects.filter(mine, **scope),
        "vial": vials,
        "lot": Lot.objects.filter(clinic_id=clinic, id__in=vials.values("lot_id")),
        "closing": VialClosing.objects.filter(clinic_id=clinic, vial_id__in=vials.values("id")),
        "decision": FindingDecision.objects.filter(clinic_id=clinic, session_id=given.session),
        "member": members,
        "user": get_user_model().objects.filter(id__in=members.values("user_id")),
        "supervisor": Membership.supervisors.through.objects.filter(
            from_membership_id=given.injector
        ),
        "consent": Consent.objects.filter(**of_indication),
        "withdrawal": ConsentWithdrawal.objects.filter(
            clinic_id=clinic,
            consent__clinic_id=clinic,
            consent__patient_id=patient,
            consent__indication=indication,
        ),
        # Every reading, superseded ones too (dropped below: no join to find them).
        "assessment": Assessment.readings.filter(**of_indication),
        "continued": ContinueDespiteVerdict.objects.filter(**of_indication),
        "diagnosis": Diagnosis.objects.filter(**of_indication),
        "coverage": standing(clinic, patient).select_related(None),
        "charge": ChargeSet.objects.filter(clinic_id=clinic, session_id=given.session),
    }
    if with_audit_head:
        selects["audit"] = AuditEntry.objects.filter(clinic_id=clinic).order_by("-seq")[:1]
    return selects


def _by(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _current_readings(readings: list[Assessment]) -> list[Assessment]:
    """``Assessment.objects``: the readings no newer reading supersedes."""
    superseded = {a.supersedes_id for a in readings if a.supersedes_id is not None}
    return [a for a in readings if a.pk not in superseded]


def _assemble(found: dict[str, list[Any]]) -> SigningRows:
    users = {u.pk: u for u in found["user"]}
    members = {}
    for m in found["member"]:
        if m.user_id in users:
            m.user = users[m.user_id]
        members[m.pk] = m
    lots = {lot.pk: lot for lot in found["lot"]}
    vials = {}
    for v in found["vial"]:
        v.lot = lots[v.lot_id]
        vials[v.pk] = v
    withdrawals = {w.consent_id: w for w in found["withdrawal"]}
    for c in found["consent"]:
        Consent.withdrawal.related.set_cached_value(c, withdrawals.get(c.pk))  # type: ignore[attr-defined]
    decisions = found["decision"]
    for d in decisions:
        if d.by_id in members:
            d.by = members[d.by_id]
    history = found["session"]
    for s in history:
        for name in ("injector_id", "signed_by_id"):
            member = members.get(getattr(s, name))
            if member is not None:
                setattr(s, name.removesuffix("_id"), member)
    head = found.get("audit")
    return SigningRows(
        history=history,
        injections=_by(sorted(found["injection"], key=lambda i: i.position), "session_id"),
        events=_by(found["event"], "session_id"),
        uses=_by(found["use"], "session_id"),
        vials=vials,
        closings={c.vial_id: c for c in found["closing"]},
        decisions=decisions,
        members=members,
        supervisor_ids=[row.to_membership_id for row in found["supervisor"]],
        consents=found["consent"],
        assessments=_current_readings(found["assessment"]),
        continued=found["continued"],
        diagnoses=found["diagnosis"],
        coverages=sorted(found["coverage"], key=lambda c: (c.recorded_at, str(c.id)), reverse=True),
        charge_sets=found["charge"],
        audit_head=None if head is None else (head[0].seq, head[0].hash) if head else (0, GENESIS),
    )
