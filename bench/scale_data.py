"""A seeded clinical dataset of any size, written in bulk as the application itself stores it.

``generate(patients=N, clinics=K, seed=S)`` fills the configured database (already migrated)
with K clinics of very different sizes: one of about 10 % of the patients, one of N / 200 (the
pair the latency budgets compare: 20,000 and 1,000 of 200,000), the rest spread unevenly over
the others. Each clinic gets two prescribers (made through the accounts service, with their
users), and then, in bulk:

- patients (about 37 % of them treated), a consent per indication renewed yearly before the
  sessions that need it, and a diagnosis per indication that has an ICD-10 code;
- signed sessions over several years in fixed shapes taken from the catalog: PREEMPT (31
  points, chronic migraine), glabellar lines (5 points, two products), axillary hyperhidrosis
  (20 intradermal points) and cervical dystonia (8 points); every session draws from one vial of
  a lot of 50, reconstituted half an hour before and then the patient's (B.30);
- the digests of the signed sessions (``session_document`` under canon 4, rebuilt here from the
  rows in memory), outcome assessments on the indication's scale (a baseline and a follow-up
  after each session), a wear-off report for one session in ten;
- the derived due state (per patient and indication), rebuilt from those rows by
  ``bontrack.outcomes.due_state.rebuild`` as after any bulk load;
- the clinic's audit chain: the entries the services append for these rows (patient, consent,
  diagnosis and lot created, vial reconstituted, session created and signed), in time order,
  keyed with the configured audit key, so that ``verify_clinic_chain`` holds.

One patient of each measured clinic has exactly 100 sessions (25 in each shape) and one has none.

Left empty, on purpose: charge sets (billing derives them at signing; no measured page reads
them), appointments, photos, invoices, adverse events, corrections. The check result stored with
each session is the one of a plan with no findings (verdict ``ok``), as most signed sessions are.

Written with COPY on PostgreSQL and ``executemany`` on SQLite, one transaction per clinic. The
append-only triggers refuse rows added to a signed session's injections and draws: like the
signing service, the rows go in before their session is signed, i.e. here before the session row
itself (foreign keys are checked at commit).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

HISTORY_SESSIONS = 100  # the measured patient's history
LOT_VIALS = 50
TREATED_SHARE = 0.37  # with the rest, about 159,000 sessions for 200,000 patients
SESSIONS_PER_TREATED = (1, 1, 2, 2, 2, 3, 3, 4)  # about 0.8 sessions per patient overall
YEARS_BACK = 4
PASSWORD = "scale-bench-password-2026"

GIVEN = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jon", "Kai")
FAMILY = ("Adler", "Brook", "Castro", "Dunn", "Ek", "Faro", "Gale", "Hart", "Ito", "Jansen")


@dataclass(frozen=True)
class Shape:
    """A treatment as clinics give it: product, indication, catalog protocol (or its own
    points), the vial size it is drawn from and the outcome scale followed."""

    key: str
    product: str
    indication: str
    protocol: str
    vial_units: Decimal
    scale: str
    weight: float
    points: tuple[tuple[str, str, Decimal, str], ...] = ()


# Cervical dystonia has no catalog protocol: a common 150 U pattern of its own points.
CERVICAL_POINTS = tuple(
    (site, side, Decimal(units), "intramuscular")
    for site, side, units in (
        ("sternocleidomastoid", "left", 15),
        ("sternocleidomastoid", "left", 15),
        ("splenius-capitis", "right", 25),
        ("splenius-capitis", "right", 25),
        ("trapezius", "right", 20),
        ("trapezius", "right", 20),
        ("levator-scapulae", "right", 15),
        ("levator-scapulae", "right", 15),
    )
)

SHAPES = (
    Shape(
        "migraine",
        "onabotulinumtoxinA",
        "chronic-migraine",
        "preempt-155",
        Decimal(200),
        "headache-days-28d",
        0.20,
    ),
    Shape(
        "glabellar",
        "onabotulinumtoxinA",
        "glabellar-lines",
        "glabellar-20",
        Decimal(50),
        "facial-wrinkle-scale",
        0.25,
    ),
    Shape(
        "glabellar-abo",
        "abobotulinumtoxinA",
        "glabellar-lines",
        "glabellar-dysport-50",
        Decimal(300),
        "facial-wrinkle-scale",
        0.15,
    ),
    Shape(
        "axillary",
        "onabotulinumtoxinA",
        "axillary-hyperhidrosis",
        "axillary-hyperhidrosis-100",
        Decimal(100),
        "hdss",
        0.12,
    ),
    Shape(
        "cervical",
        "onabotulinumtoxinA",
        "cervical-dystonia",
        "",
        Decimal(200),
        "twstrs",
        0.28,
        CERVICAL_POINTS,
    ),
)
# The 100-session patient: 25 sessions of each of these, 91 days apart.
HISTORY_SHAPES = ("migraine", "glabellar", "axillary", "cervical")
INDICATIONS = sorted({s.indication for s in SHAPES})


@dataclass
class ClinicInfo:
    id: uuid.UUID
    name: str
    patients: int
    prescriber_ids: list[uuid.UUID] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    history_patient: uuid.UUID | None = None
    empty_patient: uuid.UUID | None = None
    lot_uses: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def busiest_lot(self) -> uuid.UUID:
        return max(self.lot_uses, key=lambda lot: (self.lot_uses[lot], str(lot)))


@dataclass
class Dataset:
    clinics: list[ClinicInfo]
    large: ClinicInfo
    small: ClinicInfo
    counts: dict[str, int]
    seconds: float


def clinic_sizes(patients: int, clinics: int, rng: random.Random) -> list[int]:
    """The large clinic (10 %), the small one (N / 200), then the others, uneven (0.3-1.7 of
    their mean), the last one taking the remainder."""
    if clinics < 3:
        raise ValueError("give at least 3 clinics: the two measured ones and one more")
    large = max(patients // 10, 2)
    small = max(patients // 200, 2)
    rest = patients - large - small
    if rest < clinics - 2:
        raise ValueError("too few patients for that many clinics")
    weights = [rng.uniform(0.3, 1.7) for _ in range(clinics - 2)]
    total = sum(weights)
    others = [max(1, int(rest * w / total)) for w in weights]
    others[-1] += rest - sum(others)
    return [large, small, *others]


class Rows:
    """Rows of one table, in the column order given; checked against the model so that a
    column the application stores is never left out."""

    def __init__(self, model: Any, columns: Sequence[str]) -> None:
        stored = {
            f.attname
            for f in model._meta.concrete_fields
            if not (f.primary_key and f.get_internal_type() == "BigAutoField")
        }
        missing = stored - set(columns)
        unknown = set(columns) - stored
        if missing or unknown:
            raise RuntimeError(
                f"{model._meta.db_table}: the generator does not write {sorted(missing)} "
                f"or writes unknown {sorted(unknown)}"
            )
        self.model = model
        self.table = model._meta.db_table
        self.columns = [model._meta.get_field(c).column for c in columns]
        self.rows: list[tuple[Any, ...]] = []

    def add(self, *row: Any) -> None:
        self.rows.append(row)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def write(rows: Rows) -> int:
    """COPY on PostgreSQL, executemany on SQLite, through Django's connection (its transaction)."""
    from django.db import connection

    if not rows.rows:
        return 0
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{rows.table}" ({columns}) FROM STDIN') as copy,
        ):
            for row in rows.rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in rows.columns)
        sql = f'INSERT INTO "{rows.table}" ({columns}) VALUES ({marks})'
        raw = connection.connection
        raw.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows.rows))
    count = len(rows.rows)
    rows.rows.clear()
    return count


def _points(shape: Shape) -> tuple[tuple[str, str, Decimal, str], ...]:
    from bontrack.domain.catalog import catalog
    from bontrack.domain.planning import expand_protocol

    if shape.points:
        return shape.points
    cat = catalog()
    return tuple(
        (i.site, i.side, i.units.amount, i.route)
        for i in expand_protocol(cat.protocols[shape.protocol], shape.product)
    )


def _diluent(product: str, size: Decimal) -> Decimal:
    from bontrack.domain.catalog import catalog

    found = catalog().products[product]
    return next(d.diluent_ml for d in found.dilutions if d.vial_units == size)


def _json(value: Any) -> str:
    return json.dumps(value)


def _canonical(plain: dict[str, Any]) -> str:
    """``bontrack.audit.chain.canonical_json`` of a value already in its plain form (strings for
    UUIDs, dates and Decimals): the same text, without walking the value again."""
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Session:
    id: uuid.UUID
    patient: uuid.UUID
    shape: Shape
    day: date


class _Generator:
    def __init__(self, rng: random.Random, today: date) -> None:
        from bontrack.accounts.models import Membership
        from bontrack.audit.keys import signing_key
        from bontrack.audit.models import AuditEntry
        from bontrack.domain.catalog import catalog
        from bontrack.inventory.models import Lot, Vial
        from bontrack.outcomes.models import Assessment, WearOffReport
        from bontrack.patients.models import Consent, Diagnosis, Patient
        from bontrack.treatments.models import Injection, SessionVial, TreatmentSession

        self.rng = rng
        self.today = today
        self.cat = catalog()
        self.key = signing_key()
        self.Membership = Membership
        self.points = {s.key: _points(s) for s in SHAPES}
        self.shapes = {s.key: s for s in SHAPES}
        self.patients = Rows(
            Patient,
            [
                "id",
                "clinic_id",
                "record_number",
                "given_name",
                "family_name",
                "birth_date",
                "sex",
                "phone",
                "email",
                "address",
                "contact_agreed",
                "contact_method",
                "weight_kg",
                "weight_measured_on",
                "pregnant",
                "breastfeeding",
                "conditions",
                "medications",
                "allergies",
                "infected_sites",
                "restricted",
                "restricted_by_id",
                "created_at",
                "updated_at",
            ],
        )
        self.consents = Rows(
            Consent,
            [
                "id",
                "clinic_id",
                "patient_id",
                "indication",
                "signed_on",
                "signed_by",
                "expires_on",
                "recorded_by_id",
                "created_at",
            ],
        )
        self.diagnoses = Rows(
            Diagnosis,
            ["id", "clinic_id", "patient_id", "indication", "icd10", "noted_on", "created_at"],
        )
        self.lots = Rows(
            Lot,
            [
                "id",
                "clinic_id",
                "product",
                "lot_number",
                "vial_size_units",
                "expires_on",
                "received_vials",
                "received_on",
                "recalled_at",
                "recall_reason",
                "ndc",
                "ndc_to_confirm",
                "created_at",
            ],
        )
        self.vials = Rows(
            Vial,
            [
                "id",
                "clinic_id",
                "lot_id",
                "reconstituted_at",
                "diluent_ml",
                "reconstituted_by_id",
                "patient_id",
                "created_at",
                "from_stock",
            ],
        )
        self.sessions = Rows(
            TreatmentSession,
            [
                "id",
                "clinic_id",
                "patient_id",
                "product",
                "indication",
                "protocol",
                "plan_date",
                "notes",
                "guidance",
                "needle",
                "weight_kg",
                "weight_measured_on",
                "planned_by_id",
                "injector_id",
                "check_result",
                "catalog_version",
                "administered_at",
                "signed_at",
                "signed_by_id",
                "digest",
                "canon",
                "external",
                "source_place",
                "source_document",
                "external_key",
                "created_at",
                "updated_at",
            ],
        )
        self.injections = Rows(
            Injection,
            [
                "id",
                "clinic_id",
                "session_id",
                "position",
                "site",
                "side",
                "units",
                "route",
                "vial_id",
                "source_identifier",
            ],
        )
        self.session_vials = Rows(
            SessionVial, ["clinic_id", "session_id", "vial_id", "drawn_units"]
        )
        self.assessments = Rows(
            Assessment,
            [
                "id",
                "clinic_id",
                "patient_id",
                "indication",
                "scale",
                "value_number",
                "value_level",
                "timepoint",
                "session_id",
                "assessed_on",
                "period_start",
                "period_end",
                "muscle_group",
                "source",
                "recorded_by_id",
                "recorded_at",
                "revision",
                "supersedes_id",
            ],
        )
        self.wear_off = Rows(
            WearOffReport,
            [
                "id",
                "clinic_id",
                "patient_id",
                "session_id",
                "reported_on",
                "wore_off_on",
                "notes",
                "recorded_by_id",
                "recorded_at",
            ],
        )
        self.audit = Rows(
            AuditEntry,
            [
                "clinic_id",
                "seq",
                "at",
                "user_id",
                "username",
                "role",
                "patient_id",
                "action",
                "object_type",
                "object_id",
                "detail",
                "address",
                "prev_hash",
                "hash",
                "key_id",
            ],
        )
        self.counts: dict[str, int] = {}

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def moment(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, clock_time(hour, minute), tzinfo=UTC)

    # --- one clinic ---------------------------------------------------------------------------

    def clinic(self, info: ClinicInfo, number: int, measured: bool) -> None:
        rng = self.rng
        members = list(
            self.Membership.objects.filter(id__in=info.prescriber_ids).select_related("user")
        )
        staff = [(m.id, m.user_id, m.user.get_username(), m.role) for m in members]
        self.pending_audit: list[tuple[Any, ...]] = []
        self.clinic_id = info.id
        self.staff = staff
        sessions: list[_Session] = []
        special = {0: "history", 1: "empty"} if measured else {}
        for n in range(info.patients):
            patient = self.uuid()
            kind = special.get(n, "")
            if kind == "history":
                plan = self._history_plan()
                info.history_patient = patient
            elif kind == "empty" or rng.random() >= TREATED_SHARE:
                plan = []
                if kind == "empty":
                    info.empty_patient = patient
            else:
                plan = self._treatment_plan()
            registered = (
                plan[0][1] - timedelta(days=rng.randrange(7, 60))
                if plan
                else self.today - timedelta(days=rng.randrange(1, 365 * YEARS_BACK))
            )
            self._patient(info, number, n, patient, registered, kind)
            for shape, day in plan:
                sessions.append(_Session(self.uuid(), patient, shape, day))
            self._consents_and_diagnoses(patient, plan)
        sessions.sort(key=lambda s: (s.day, str(s.id)))
        self._stock_and_sessions(info, number, sessions)
        self._audit_chain()
        for rows in (
            self.patients,
            self.consents,
            self.diagnoses,
            self.lots,
            self.vials,
            self.injections,
            self.session_vials,
            self.sessions,
            self.assessments,
            self.wear_off,
            self.audit,
        ):
            name = rows.table
            self.counts[name] = self.counts.get(name, 0) + write(rows)

    def _history_plan(self) -> list[tuple[Shape, date]]:
        """Four series of 25 sessions each, 91 days apart, the latest a month ago."""
        plan = []
        for k, key in enumerate(HISTORY_SHAPES):
            last = self.today - timedelta(days=30 + 7 * k)
            for n in range(HISTORY_SESSIONS // len(HISTORY_SHAPES)):
                plan.append((self.shapes[key], last - timedelta(days=91 * n)))
        plan.sort(key=lambda item: item[1])
        return plan

    def _treatment_plan(self) -> list[tuple[Shape, date]]:
        rng = self.rng
        shape = rng.choices(SHAPES, weights=[s.weight for s in SHAPES])[0]
        count = rng.choice(SESSIONS_PER_TREATED)
        day = self.today - timedelta(days=rng.randrange(2, 365 * YEARS_BACK))
        plan = []
        for _ in range(count):
            if day >= self.today:
                break
            plan.append((shape, day))
            day += timedelta(days=rng.randrange(84, 200))
        return plan

    def _patient(
        self, info: ClinicInfo, number: int, n: int, patient: uuid.UUID, day: date, kind: str
    ) -> None:
        rng = self.rng
        at = self.moment(day, 9, rng.randrange(60))
        agreed = rng.random() < 0.7
        self.patients.add(
            patient,
            info.id,
            f"C{number:02d}-{n:07d}",
            rng.choice(GIVEN),
            f"{rng.choice(FAMILY)} {kind or n}",
            date(rng.randrange(1940, 2006), rng.randrange(1, 13), rng.randrange(1, 29)),
            rng.choice(("female", "female", "male", "unknown")),
            f"+44 20 7946 {n % 10000:04d}",
            "",
            "",
            agreed,
            "phone" if agreed else "none",
            None,
            None,
            False,
            False,
            "[]",
            "[]",
            "[]",
            "[]",
            False,
            None,
            at,
            at,
        )
        self._record(at, patient, "create", "patient", patient, {})

    def _consents_and_diagnoses(self, patient: uuid.UUID, plan: list[tuple[Shape, date]]) -> None:
        """A consent signed a week before the first session of an indication, and again before
        any session its consent no longer covers (B.29: a year at most)."""
        covered: dict[str, date] = {}
        for shape, day in plan:
            indication = shape.indication
            if indication in covered and day < covered[indication]:
                continue
            signed_on = day - timedelta(days=7)
            expires_on = signed_on + timedelta(days=365)
            at = self.moment(signed_on, 11)
            consent = self.uuid()
            member = self.staff[0]
            self.consents.add(
                consent,
                self.clinic_id,
                patient,
                indication,
                signed_on,
                "The patient",
                expires_on,
                member[0],
                at,
            )
            self._record(at, patient, "create", "consent", consent, {"indication": indication})
            if indication not in covered:
                codes = self.cat.indications[indication].icd10
                if codes:
                    diagnosis = self.uuid()
                    self.diagnoses.add(
                        diagnosis, self.clinic_id, patient, indication, codes[0].code, signed_on, at
                    )
                    self._record(at, patient, "create", "diagnosis", diagnosis, {})
            covered[indication] = expires_on

    def _stock_and_sessions(self, info: ClinicInfo, number: int, sessions: list[_Session]) -> None:
        from bontrack.billing.identifiers import lot_ndc

        open_lots: dict[tuple[str, Decimal], tuple[uuid.UUID, int, list[_Session]]] = {}
        lot_counter = 0
        series: dict[tuple[uuid.UUID, str], list[_Session]] = {}

        def close_lot(lot: uuid.UUID, uses: list[_Session], product: str, size: Decimal) -> None:
            first = uses[0].day
            received = first - timedelta(days=7)
            at = self.moment(received, 8)
            ndc, to_confirm = lot_ndc(product, size, None)
            self.lots.add(
                lot,
                info.id,
                product,
                f"S{number:02d}-{lot_counter:05d}",
                size,
                uses[-1].day + timedelta(days=365),
                LOT_VIALS,
                received,
                None,
                "",
                ndc,
                to_confirm,
                at,
            )
            self._record(
                at, None, "create", "lot", lot, {"lot_number": f"S{number:02d}-{lot_counter:05d}"}
            )
            info.lot_uses[lot] = len(uses)
            # The vials left in stock: never opened.
            for _ in range(LOT_VIALS - len(uses)):
                self.vials.add(self.uuid(), info.id, lot, None, None, None, None, at, True)

        for s in sessions:
            shape = s.shape
            slot = (shape.product, shape.vial_units)
            lot, used, uses = open_lots.get(slot, (None, 0, []))
            if lot is None or used == LOT_VIALS:
                if lot is not None:
                    close_lot(lot, uses, *slot)
                    lot_counter += 1
                lot, used, uses = self.uuid(), 0, []
            uses.append(s)
            open_lots[slot] = (lot, used + 1, uses)
            self._session(info, s, lot)
            series.setdefault((s.patient, shape.key), []).append(s)
        for slot, (lot, _, uses) in sorted(open_lots.items(), key=lambda item: str(item[1][0])):
            close_lot(lot, uses, *slot)
            lot_counter += 1
        for (patient, _), found in series.items():
            self._outcomes(patient, found)

    def _session(self, info: ClinicInfo, s: _Session, lot: uuid.UUID) -> None:
        from bontrack.domain.units import format_decimal

        rng = self.rng
        shape = s.shape
        member_id, _, _, _ = rng.choice(self.staff)
        administered = self.moment(s.day, 9 + rng.randrange(8), rng.randrange(60))
        planned = administered - timedelta(hours=1)
        signed = administered + timedelta(minutes=rng.randrange(5, 40))
        opened = administered - timedelta(minutes=30)
        vial = self.uuid()
        self.vials.add(
            vial,
            info.id,
            lot,
            opened,
            _diluent(shape.product, shape.vial_units),
            member_id,
            s.patient,
            self.moment(s.day - timedelta(days=7), 8),
            True,
        )
        self._record(opened, None, "update", "vial", vial, {"reconstituted": True})
        points = self.points[shape.key]
        total = sum((p[2] for p in points), Decimal(0))
        injections = []
        for n, (site, side, units, route) in enumerate(points):
            self.injections.add(self.uuid(), info.id, s.id, n, site, side, units, route, None, "")
            injections.append(
                {
                    "position": n,
                    "site": site,
                    "side": side,
                    "units": format_decimal(units),
                    "route": route,
                    "vial": None,
                    "source_identifier": "",
                }
            )
        self.session_vials.add(info.id, s.id, vial, total)
        check_result = {
            "verdict": "ok",
            "product": shape.product,
            "total_units": format_decimal(total),
            "findings": [],
            "catalog_version": self.cat.version,
        }
        document = {
            "canon": 4,
            "id": str(s.id),
            "clinic": str(info.id),
            "patient": str(s.patient),
            "product": shape.product,
            "indication": shape.indication,
            "protocol": shape.protocol,
            "plan_date": s.day.isoformat(),
            "notes": "",
            "administered_at": _utc(administered),
            "injections": injections,
            "vials": [{"vial": str(vial), "drawn_units": format_decimal(total)}],
            "catalog_version": self.cat.version,
            "findings": [],
            "injector": str(member_id),
            "signed_by": str(member_id),
            "signed_at": _utc(signed),
            "technique": {"guidance": "", "needle": ""},
            "weight": None,
        }
        signature = hashlib.sha256(_canonical(document).encode("utf-8")).hexdigest()
        self.sessions.add(
            s.id,
            info.id,
            s.patient,
            shape.product,
            shape.indication,
            shape.protocol,
            s.day,
            "",
            "",
            "",
            None,
            None,
            member_id,
            member_id,
            _json(check_result),
            self.cat.version,
            administered,
            signed,
            member_id,
            signature,
            4,
            False,
            "",
            "",
            "",
            planned,
            signed,
        )
        self._record(planned, s.patient, "create", "session", s.id, {"verdict": "ok"}, member_id)
        self._record(signed, s.patient, "sign", "session", s.id, {"digest": signature}, member_id)
        if rng.random() < 0.1:
            wore_off = s.day + timedelta(days=rng.randrange(70, 150))
            reported = wore_off + timedelta(days=rng.randrange(0, 8))
            if reported < self.today:
                at = self.moment(reported, 12)
                self.wear_off.add(
                    self.uuid(), info.id, s.patient, s.id, reported, wore_off, "", member_id, at
                )
                self._record(at, s.patient, "create", "wear-off", s.id, {}, member_id)

    def _outcomes(self, patient: uuid.UUID, series: list[_Session]) -> None:
        """A baseline before the first session and a follow-up six weeks after each: headache
        days over 28 days for migraine, a day's score on the other scales, improving."""
        rng = self.rng
        shape = series[0].shape
        scale = shape.scale
        baseline = {
            "headache-days-28d": 20,
            "facial-wrinkle-scale": 3,
            "hdss": 4,
            "twstrs": 45,
        }[scale]
        improved = {
            "headache-days-28d": 9,
            "facial-wrinkle-scale": 1,
            "hdss": 2,
            "twstrs": 28,
        }[scale]
        readings: list[tuple[str, _Session | None, date, int]] = [
            ("baseline", None, series[0].day - timedelta(days=1), baseline)
        ]
        for n, s in enumerate(series):
            day = s.day + timedelta(days=42)
            following = series[n + 1].day if n + 1 < len(series) else self.today
            if day >= following:
                continue
            value = max(0, improved + rng.randrange(-1, 2))
            readings.append(("follow-up", s, day, value))
        for timepoint, s, day, value in readings:
            at = self.moment(day, 16)
            member_id = self.staff[0][0]
            if scale == "headache-days-28d":
                start, end, on = day - timedelta(days=27), day, None
            else:
                start, end, on = None, None, day
            reading = self.uuid()
            self.assessments.add(
                reading,
                self.clinic_id,
                patient,
                shape.indication,
                scale,
                Decimal(value),
                "",
                timepoint,
                s.id if s is not None else None,
                on,
                start,
                end,
                "",
                "clinician",
                member_id,
                at,
                1,
                None,
            )
            self._record(at, patient, "create", "assessment", reading, {"scale": scale})

    # --- the audit chain ------------------------------------------------------------------------

    def _record(
        self,
        at: datetime,
        patient: uuid.UUID | None,
        action: str,
        object_type: str,
        object_id: object,
        detail: dict[str, Any],
        member_id: uuid.UUID | None = None,
    ) -> None:
        self.pending_audit.append(
            (at, member_id, patient, action, object_type, str(object_id), detail)
        )

    def _audit_chain(self) -> None:
        """The clinic's entries in time order, each hashed over the previous one as
        ``AuditTrail.write`` does (``audit_canonical``, already in canonical form)."""
        from bontrack.audit.chain import GENESIS

        by_member = {m[0]: m for m in self.staff}
        prev = GENESIS
        secret = self.key.secret
        clinic = str(self.clinic_id)
        self.pending_audit.sort(key=lambda e: (e[0], e[4] != "create", e[5]))
        for seq, (at, member_id, patient, action, object_type, object_id, detail) in enumerate(
            self.pending_audit, 1
        ):
            _, user_id, username, role = by_member.get(member_id, self.staff[0])
            canonical = {
                "clinic": clinic,
                "seq": seq,
                "at": _utc(at),
                "user": user_id,
                "username": username,
                "role": role,
                "patient": None if patient is None else str(patient),
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "detail": detail,
                "address": "",
            }
            message = (_canonical(canonical) + prev).encode("utf-8")
            entry_hash = hmac.new(secret, message, hashlib.sha256).hexdigest()
            self.audit.add(
                self.clinic_id,
                seq,
                at,
                user_id,
                username,
                role,
                patient,
                action,
                object_type,
                object_id,
                _json(detail),
                "",
                prev,
                entry_hash,
                self.key.id,
            )
            prev = entry_hash
        self.pending_audit = []


def _staff(name: str, number: int, seed: int) -> tuple[uuid.UUID, list[uuid.UUID], list[str]]:
    from bontrack.accounts.services import add_member, create_clinic

    clinic = create_clinic(name, "UTC")
    members = []
    names = []
    for k in range(2):
        username = f"scale-{seed}-{number:02d}-{k}"
        member = add_member(
            clinic,
            username=username,
            password=PASSWORD,
            role="prescriber",
            full_name=f"Prescriber {number}.{k}",
            credentials=["physician"],
            indications=INDICATIONS,
        )
        members.append(member.id)
        names.append(username)
    return clinic.id, members, names


def _derived_rows_rebuild() -> Any:
    """The rebuild of the derived due state (per patient and indication), which the services
    keep current in the transactions that write its sources: here the sources were written in
    bulk, so it is rebuilt from them, as after any bulk load. None where the release has none."""
    import importlib.util

    if importlib.util.find_spec("bontrack.outcomes.due_state") is None:
        return None
    from bontrack.outcomes import due_state

    return due_state.rebuild


def generate(
    *,
    patients: int,
    clinics: int,
    seed: int,
    today: date,
    checked: bool = True,
    progress: Any = None,
) -> Dataset:
    """Fill the (migrated) database; ``today`` anchors every date.

    ``checked=False`` (PostgreSQL only) loads each clinic with ``session_replication_role =
    replica``, i.e. without the foreign-key and append-only triggers, as ``pg_restore
    --disable-triggers`` loads a dump: the same rows, written in about two thirds of the time.
    The rows are those the checked load writes (tests/bench loads them with every check on)."""
    import time

    from django.db import connection, transaction

    started = time.perf_counter()
    rng = random.Random(seed)
    sizes = clinic_sizes(patients, clinics, rng)
    infos = []
    for number, size in enumerate(sizes):
        label = {0: "large", 1: "small"}.get(number, "other")
        name = f"Scale clinic {number:02d} ({label}, {size:,} patients)"
        clinic_id, members, names = _staff(name, number, seed)
        infos.append(ClinicInfo(clinic_id, name, size, members, names))
    generator = _Generator(rng, today)
    unchecked = not checked and connection.vendor == "postgresql"
    for number, info in enumerate(infos):
        with transaction.atomic():
            if unchecked:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = replica")
            generator.clinic(info, number, measured=number < 2)
        if progress is not None:
            progress(
                f"clinic {number + 1}/{len(infos)}: {info.patients:,} patients "
                f"({time.perf_counter() - started:.0f} s)"
            )
    # The derived rows are computed by queries over what was just written: with statistics.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rebuild = _derived_rows_rebuild()
    if rebuild is not None:
        generator.counts["outcomes_duestate"] = sum(rebuild(info.id) for info in infos)
        if progress is not None:
            progress(f"due state rebuilt ({time.perf_counter() - started:.0f} s)")
    return Dataset(infos, infos[0], infos[1], dict(generator.counts), time.perf_counter() - started)


def table_counts(names: Iterable[str]) -> dict[str, int]:
    from django.db import connection

    found = {}
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f'SELECT COUNT(*) FROM "{name}"')
            found[name] = cursor.fetchone()[0]
    return found
