"""B.30 as properties, through the real services and database: for random vial sets, earlier
draws and plans, a signed session never draws more than its vials held and its draws add up to its
total; once its vials are closed, each vial's draws plus its waste equal its size."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from bontrack.core.errors import ConflictError
from bontrack.inventory.services import close_vial
from bontrack.treatments import services
from bontrack.treatments.models import SessionVial
from bontrack.treatments.services import PointInput
from bontrack.treatments.supply import DrawInput, vial_states
from tests import builders
from tests.services.test_supply_signing import decide_all, midday_clinic

pytestmark = pytest.mark.django_db

units = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(150), places=3)
vial_sets = st.lists(st.sampled_from([50, 100, 200]), min_size=1, max_size=3)


@given(
    sizes=vial_sets,
    earlier=st.lists(units, max_size=2),
    points=st.lists(units, min_size=1, max_size=4),
    give_draws=st.booleans(),
    given_draws=st.lists(units, min_size=3, max_size=3),
)
@settings(max_examples=25, deadline=None)
def test_a_signed_session_never_draws_more_than_its_vials_held(
    sizes, earlier, points, give_draws, given_draws
):
    with transaction.atomic():
        s = builders.staff()
        midday_clinic(s)
        p = builders.patient(s, weight_kg=70)
        builders.consent(s, p, "upper-limb-spasticity")
        builders.consent(s, p, "glabellar-lines")
        opened = timezone.now() - timedelta(hours=3)
        vials = [
            builders.open_vial(s, builders.lot(s, number=f"L{n}", size=size, vials=1), at=opened)
            for n, size in enumerate(sizes)
        ]
        doctor = s.actor("physician")
        # Earlier sessions of the same patient, the same day, drew from the first vial.
        for n, amount in enumerate(earlier):
            session = services.plan_session(
                doctor,
                p.id,
                product="onabotulinumtoxinA",
                indication="glabellar-lines",
                plan_date=timezone.localdate(),
                injections=[PointInput("procerus", "midline", amount)],
                vial_ids=[vials[0].id],
            )
            at = opened + timedelta(minutes=10 * (n + 1))
            decide_all(s, session, at)
            with contextlib.suppress(ConflictError):  # an earlier draw may not fit: none drawn
                services.sign_session(doctor, session.id, administered_at=at)
        session = services.plan_session(
            doctor,
            p.id,
            product="onabotulinumtoxinA",
            indication="upper-limb-spasticity",
            plan_date=timezone.localdate(),
            injections=[PointInput("biceps-brachii", "left", u) for u in points],
            vial_ids=[v.id for v in vials],
        )
        at = timezone.now() - timedelta(minutes=30)
        held = {
            v.id: f.remaining(at)
            for v, f in zip(vials, vial_states(vials, s.clinic.time_zone).values(), strict=True)
        }
        decide_all(s, session, at)
        draws = (
            [DrawInput(v.id, d) for v, d in zip(vials, given_draws, strict=False)]
            if give_draws
            else None
        )
        try:
            signed = services.sign_session(doctor, session.id, administered_at=at, vials=draws)
        except ConflictError as refused:
            refusal = refused.message
            signed = None
        if signed is None:
            assert "supply" in refusal
            assert not SessionVial.objects.filter(session=session, drawn_units__isnull=False)
        else:
            drawn = dict(
                SessionVial.objects.filter(session=signed).values_list("vial_id", "drawn_units")
            )
            assert sum(drawn.values()) == sum(points)
            for vial_id, amount in drawn.items():
                assert amount <= held[vial_id]
        for v in vials:
            if not vial_states([v], s.clinic.time_zone)[v.id].closed(timezone.now()):
                close_vial(s.actor("nurse"), v.id)
        now = timezone.now()
        for figures in vial_states(vials, s.clinic.time_zone).values():
            assert figures.closed(now)
            assert figures.used + figures.wasted(now) == figures.size
            assert figures.used <= figures.size
        transaction.set_rollback(True)
