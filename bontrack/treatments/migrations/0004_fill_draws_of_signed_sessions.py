"""B.30: each signed session's draws, for sessions signed before draws were recorded.

The units a session gave are put on its vials as signing now fills them: the points that name a
vial on that vial, the rest in the order the vials were opened, each vial up to its size. Those
sessions keep canonical form 1 (no draws), so their digests still verify (DESIGN 3.4)."""

from decimal import Decimal

from django.db import migrations


def fill_draws(apps, schema_editor):
    SessionVial = apps.get_model("treatments", "SessionVial")
    Injection = apps.get_model("treatments", "Injection")
    uses_by_session = {}
    uses = (
        SessionVial.objects.filter(session__signed_at__isnull=False, drawn_units__isnull=True)
        .select_related("vial__lot")
        .order_by("session_id")
    )
    for use in uses.iterator():
        uses_by_session.setdefault(use.session_id, []).append(use)
    for session_id, rows in uses_by_session.items():
        rows.sort(
            key=lambda u: (
                u.vial.reconstituted_at is None,
                u.vial.reconstituted_at or u.vial.created_at,
                u.vial.created_at,
                str(u.vial_id),
            )
        )
        named = {u.vial_id: Decimal(0) for u in rows}
        unnamed = Decimal(0)
        for vial_id, units in Injection.objects.filter(session_id=session_id).values_list(
            "vial_id", "units"
        ):
            if vial_id in named:
                named[vial_id] += units
            else:
                unnamed += units
        for use in rows:
            size = Decimal(use.vial.lot.vial_size_units)
            base = min(named[use.vial_id], size)
            take = min(max(size - base, Decimal(0)), unnamed)
            unnamed -= take
            SessionVial.objects.filter(pk=use.pk).update(drawn_units=base + take)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0003_session_vial_draws_corrections_and_canon"),
        ("inventory", "0003_vial_closings_derived_figures"),
    ]

    operations = [migrations.RunPython(fill_draws, migrations.RunPython.noop)]
