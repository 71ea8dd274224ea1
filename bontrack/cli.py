"""The `bontrack` command: check a plan, judge an outcome, list the catalog, answer reconstitution
questions.

Exit codes of `check` (DESIGN.md 3.3): 0 when nothing blocks, 1 when something blocks, 2 when the
input is invalid (standard error names the field; with --json, standard output carries the API's
error shape). `outcome` exits 0, or 2 for invalid input, the same way (DESIGN.md 3.8).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from bontrack.check_output import result_json, result_text
from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import Catalog, Citation
from bontrack.domain.check import evaluate
from bontrack.domain.planning import dilution_in_label, expand_protocol, reconstitute
from bontrack.domain.quantities import Volume
from bontrack.domain.treatment import Injection
from bontrack.domain.units import Units, format_decimal
from bontrack.plan_input import FieldError, InvalidInputError, parse_check_input

# Everything above is what `check` needs anyway (the plan's input models import the domain and
# the catalog); a subcommand imports what only it needs when it runs, so that `check`, run once
# per plan, does not pay for the outcome rules, their input models or Django
# (tests/cli/test_startup_imports.py keeps it so).
if TYPE_CHECKING:
    from bontrack.domain.outcomes import OutcomeVerdict, Reading

EXIT_OK, EXIT_BLOCK, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 70


def _errors_out(errors: Sequence[FieldError], as_json: bool) -> int:
    for error in errors:
        print(str(error), file=sys.stderr)
    if as_json:
        shape = {"errors": [{"field": e.field, "message": e.message} for e in errors]}
        print(json.dumps(shape, indent=2))
    return EXIT_INVALID


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInputError([FieldError(None, f"{path}: no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError([FieldError(None, f"{path}: cannot be read: {error}")]) from None


def cmd_check(args: argparse.Namespace) -> int:
    try:
        request = parse_check_input(_read(args.plan))
    except InvalidInputError as invalid:
        return _errors_out(invalid.errors, args.json)
    result = evaluate(
        request.plan,
        request.patient,
        request.history,
        request.injector,
        request.now,
        verdicts=request.verdicts,
    )
    if args.json:
        print(json.dumps(result_json(result), indent=2, ensure_ascii=False))
    else:
        print(result_text(result))
    return EXIT_BLOCK if result.verdict == "block" else EXIT_OK


def outcome_json(result: OutcomeVerdict) -> dict[str, Any]:
    """DESIGN 3.8's output: numbers as strings; ``responder_50`` for headache-day scales only."""
    shape: dict[str, Any] = {
        "scale": result.scale,
        "indication": result.indication,
        "muscle_group": result.muscle_group,
        "verdict": result.verdict,
        "change": None if result.change is None else format_decimal(result.change),
        "change_grades": result.change_grades,
        # One decimal always ("-35.0"), so not normalised like the other numbers.
        "change_pct": None if result.change_pct is None else format(result.change_pct, "f"),
    }
    if result.headache_days:
        shape["responder_50"] = result.responder_50
    shape["reason"] = result.reason
    shape["source"] = result.source
    # Added in December 2026 (DESIGN 3.8): what the records service passes to the check.
    shape["as_of"] = result.as_of.isoformat() if result.as_of is not None else None
    shape["summary"] = result.summary
    return shape


def _reading_text(reading: Reading) -> str:
    value = reading.value if isinstance(reading.value, str) else format_decimal(reading.value)
    after = f", after cycle {reading.after_cycle}" if reading.after_cycle is not None else ""
    return f"{value} ({reading.when()}{after})"


def outcome_text(result: OutcomeVerdict) -> str:
    scale = catalog().scales[result.scale]
    lines = [f"Verdict: {result.verdict}", f"Scale: {result.scale} ({scale.name})"]
    about = [
        f"Indication: {result.indication}" if result.indication else "",
        f"Muscle group: {result.muscle_group}" if result.muscle_group else "",
    ]
    if any(about):
        lines.append("    ".join(a for a in about if a))
    lines.append(f"Baseline: {_reading_text(result.baseline)}")
    if result.latest is not None:
        lines.append(f"Latest follow-up: {_reading_text(result.latest)}")
    changes = []
    if result.change is not None:
        changes.append(format_decimal(result.change))
    if result.change_pct is not None:
        changes.append(f"{format(result.change_pct, 'f')} %")
    if result.change_grades is not None:
        n = result.change_grades
        changes.append(f"{n} grade" if abs(n) == 1 else f"{n} grades")
    if changes:
        lines.append(f"Change: {', '.join(changes)}")
    if result.headache_days and result.cycles is not None:
        lines.append(f"Treatment cycles before this follow-up: {result.cycles}")
    if result.responder_50 is not None:
        lines.append(f"Fall of 50 % or more (responder): {'yes' if result.responder_50 else 'no'}")
    lines.append(f"Summary: {result.summary}")
    lines += textwrap.wrap(f"Reason: {result.reason}", 100, subsequent_indent="  ")
    lines += textwrap.wrap(f"Source: {result.source}", 100, subsequent_indent="  ")
    return "\n".join(lines)


def cmd_outcome(args: argparse.Namespace) -> int:
    from bontrack.domain.outcomes import judge
    from bontrack.outcome_input import parse_outcome_input

    try:
        series = parse_outcome_input(_read(args.file))
    except InvalidInputError as invalid:
        return _errors_out(invalid.errors, args.json)
    result = judge(series)
    if args.json:
        print(json.dumps(outcome_json(result), indent=2, ensure_ascii=False))
    else:
        print(outcome_text(result))
    return EXIT_OK


def _cite(cite: Citation) -> dict[str, Any]:
    return {
        "source": list(cite.refs),
        # A rule resting on bontrack policy alone cites no document, so it has no tag (B.36).
        "tag": cite.tag.value if cite.refs else None,
        "confirm": cite.confirm,
        "policies": list(cite.policies),
    }


def catalog_json(cat: Catalog) -> dict[str, Any]:
    def number(value: Decimal | None) -> str | None:
        return None if value is None else format_decimal(value)

    return {
        "version": cat.version,
        "products": [
            {
                "code": p.code,
                "brands": list(p.brands),
                "manufacturer": p.manufacturer,
                "serotype": p.serotype,
                "form": p.form,
                "vial_sizes": [number(s) for s in p.vial_sizes],
                "in_use_hours": number(p.in_use_hours),
                "in_use": _cite(p.in_use_cite),
                "contains": [i.code for i in p.ingredients],
                "dilutions": [
                    {
                        "vial": number(d.vial_units),
                        "diluent_ml": number(d.diluent_ml),
                        **_cite(d.cite),
                    }
                    for d in p.dilutions
                ],
            }
            for p in cat.products.values()
        ],
        "indications": [
            {
                "code": i.code,
                "name": i.name,
                "route": i.route,
                "icd10": [c.code for c in i.icd10],
                "sites": list(i.sites),
                "scales": list(i.scales),
                "labelled_for": [
                    {"product": use.product, "min_age": use.min_age, "max_age": use.max_age}
                    for use in i.labels
                ],
            }
            for i in cat.indications.values()
        ],
        "protocols": [
            {
                "id": p.id,
                "name": p.name,
                "product": p.product,
                "indications": list(p.indications),
                "total_units": number(p.total),
                "points": [
                    {"site": pt.site, "side": pt.side, "units": number(pt.units), "route": pt.route}
                    for pt in p.points
                ],
                **_cite(p.cite),
            }
            for p in cat.protocols.values()
        ],
        "sites": [
            {
                "code": s.code,
                "name": s.name,
                "region": s.region,
                "sides": list(s.sides),
                "default_route": s.default_route,
                "snomed": s.snomed,
            }
            for s in cat.sites.values()
        ],
        "limits": [
            {
                "id": limit.id,
                "rule": limit.rule,
                "product": limit.product,
                "measure": limit.measure.value,
                "population": limit.population.value,
                "severity": limit.severity.value,
                "max_units": number(limit.max_units),
                "max_units_per_kg": number(limit.max_units_per_kg),
                "max_ml": number(limit.max_ml),
                "window_days": limit.window_days,
                "description": limit.description,
                **_cite(limit.cite),
            }
            for limit in cat.limits
        ],
        "conditions": list(cat.codes_of("condition")),
        "drugs": list(cat.codes_of("drug")),
        "allergies": [*cat.products, *cat.codes_of("allergy")],
        "credentials": list(cat.credentials),
        "routes": list(cat.routes),
        "scales": list(cat.scales),
    }


def _to_confirm(cat: Catalog) -> list[str]:
    rows = [f"limit {limit.id}" for limit in cat.limits if limit.cite.confirm]
    rows += [
        f"interval {i.product} {','.join(i.indications) or 'all'} {i.days} days"
        for i in cat.intervals
        if i.cite.confirm
    ]
    rows += [
        f"{p.code} in-use time {p.in_use_hours} h"
        for p in cat.products.values()
        if p.in_use_cite.confirm
    ]
    return rows


def catalog_text(cat: Catalog) -> str:
    out = [f"bontrack catalog {cat.version}", "", "Products:"]
    for p in cat.products.values():
        sizes = ", ".join(f"{format_decimal(s)} U" for s in p.vial_sizes)
        hours = format_decimal(p.in_use_hours)
        out.append(f"  {p.code:<22} {' / '.join(p.brands):<22} vials {sizes}; use within {hours} h")
    out += ["", "Indications:"]
    for i in cat.indications.values():
        labelled = ", ".join(u.product for u in i.labels) or "off-label for every product"
        out.append(f"  {i.code:<34} {labelled}")
    out += ["", "Protocols:"]
    for pr in cat.protocols.values():
        out.append(
            f"  {pr.id:<28} {pr.product:<22} {len(pr.points)} points, {format_decimal(pr.total)} U "
            f"({', '.join(pr.indications)})"
        )
    out += ["", "Sites:"]
    by_region: dict[str, list[str]] = {}
    for s in cat.sites.values():
        by_region.setdefault(s.region, []).append(s.code)
    for region, codes in by_region.items():
        out.append(f"  {region}: {', '.join(codes)}")
    out += [
        "",
        f"Conditions: {', '.join(cat.codes_of('condition'))}",
        f"Drugs: {', '.join(cat.codes_of('drug'))}",
        f"Allergies: any product code, {', '.join(cat.codes_of('allergy'))}",
        f"Credentials: {', '.join(cat.credentials)}",
        f"Routes: {', '.join(cat.routes)}",
        f"Scales: {', '.join(cat.scales)}",
        "",
        "Still to be confirmed against the current label ([R] facts):",
    ]
    out += [f"  {row}" for row in _to_confirm(cat)]
    return "\n".join(out)


def cmd_catalog(args: argparse.Namespace) -> int:
    cat = catalog()
    if args.json:
        print(json.dumps(catalog_json(cat), indent=2, ensure_ascii=False))
    else:
        print(catalog_text(cat))
    return EXIT_OK


def _decimal_arg(option: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInputError([FieldError(option, f"must be a number, not {text!r}")]) from None
    if not value.is_finite() or value < 0:
        raise InvalidInputError([FieldError(option, "must be a number, 0 or more")])
    return value


def cmd_reconstitute(args: argparse.Namespace) -> int:
    try:
        answer = _reconstitution(args)
    except InvalidInputError as invalid:
        return _errors_out(invalid.errors, args.json)
    print(json.dumps(answer, indent=2) if args.json else _reconstitution_text(answer))
    return EXIT_OK


def _reconstitution(args: argparse.Namespace) -> dict[str, Any]:
    cat = catalog()
    if args.product not in cat.products:
        raise InvalidInputError([FieldError("--product", f"unknown product code {args.product!r}")])
    product = cat.products[args.product]
    size = _decimal_arg("--vial", args.vial)
    if size not in product.vial_sizes:
        sizes = ", ".join(f"{format_decimal(s)} U" for s in product.vial_sizes)
        raise InvalidInputError([FieldError("--vial", f"{product.code} comes in {sizes}")])
    diluent = _decimal_arg("--diluent", args.diluent)
    if diluent == 0 and product.form == "powder":
        raise InvalidInputError([FieldError("--diluent", "must be greater than 0 for a powder")])
    injections: tuple[Injection, ...]
    if args.protocol:
        protocol = cat.protocols.get(args.protocol)
        if protocol is None:
            raise InvalidInputError(
                [FieldError("--protocol", f"unknown protocol {args.protocol!r}")]
            )
        if protocol.product != product.code:
            raise InvalidInputError(
                [
                    FieldError(
                        "--protocol",
                        f"{protocol.id} is written in {protocol.product} units, not {product.code}",
                    )
                ]
            )
        injections = expand_protocol(protocol, product.code)
    elif args.units:
        units = _decimal_arg("--units", args.units)
        if units == 0:
            raise InvalidInputError([FieldError("--units", "must be greater than 0")])
        if args.points < 1:
            raise InvalidInputError([FieldError("--points", "must be 1 or more")])
        injections = tuple(
            Injection("point", "midline", Units(product.code, units), "intramuscular")
            for _ in range(args.points)
        )
    else:
        raise InvalidInputError([FieldError("--protocol", "give --protocol or --units")])
    when = None
    if args.reconstituted_at:
        try:
            when = datetime.fromisoformat(args.reconstituted_at)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise InvalidInputError(
                [
                    FieldError(
                        "--reconstituted-at", "must be an ISO 8601 date and time with a UTC offset"
                    )
                ]
            )
    answer = reconstitute(product, Units(product.code, size), Volume(diluent), injections, when)
    per_point = Counter(
        (format_decimal(p.injection.units.amount), format_decimal(p.volume.ml))
        for p in answer.points
    )
    listed = dilution_in_label(product, answer.size, answer.diluent)
    return {
        "product": product.code,
        "brands": list(product.brands),
        "vial_units": format_decimal(size),
        "diluent_ml": format_decimal(diluent),
        "units_per_0_1_ml": format_decimal(
            answer.concentration.per_tenth_ml.amount.quantize(Decimal("0.001"))
        ),
        "protocol": args.protocol,
        "points": len(answer.points),
        "per_point": [{"units": u, "ml": ml, "count": n} for (u, ml), n in per_point.items()],
        "total_units": format_decimal(answer.total.amount),
        "total_ml": format_decimal(answer.total_volume.ml),
        "vials_needed": answer.vials,
        "units_left_over": format_decimal(answer.leftover.amount),
        "in_use_hours": format_decimal(product.in_use_hours),
        "use_by": answer.use_by.isoformat() if answer.use_by else None,
        "dilution_listed": listed,
    }


def _reconstitution_text(a: dict[str, Any]) -> str:
    brands = " / ".join(a["brands"])
    lines = [
        (
            f"{a['product']} ({brands}): {a['vial_units']} U vial + {a['diluent_ml']} mL saline "
            f"= {a['units_per_0_1_ml']} U per 0.1 mL"
        ),
    ]
    plan = f"protocol {a['protocol']}" if a["protocol"] else "plan"
    lines.append(f"For the {plan}: {a['points']} points, {a['total_units']} U in all")
    for row in a["per_point"]:
        lines.append(f"  {row['count']} × {row['units']} U = {row['ml']} mL per point")
    lines.append(f"  Total volume: {a['total_ml']} mL")
    leftover = (
        f" ({a['units_left_over']} U left over: discard, vials are single-use)"
        if a["units_left_over"] != "0"
        else ""
    )
    lines.append(f"  Vials needed: {a['vials_needed']} × {a['vial_units']} U{leftover}")
    if a["use_by"]:
        lines.append(f"  Use by: {a['use_by']} ({a['in_use_hours']} h after reconstitution)")
    else:
        lines.append(f"  Use within {a['in_use_hours']} h of reconstitution")
    if a["dilution_listed"] is False:
        lines.append("  Warning: this saline volume is not one the label lists for this vial size")
    return "\n".join(lines)


def _django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bontrack.settings")
    django.setup()


def cmd_demo(args: argparse.Namespace) -> int:
    _django()
    from bontrack.accounts.models import Clinic
    from bontrack.ops.demo import build_demo

    if args.if_empty and Clinic.objects.exists():
        print("The database already has clinics: the demo was not loaded again.")
        return EXIT_OK
    demo = build_demo()
    print(f"Demo clinic loaded: {demo.clinic.name}")
    print("Sign in at http://127.0.0.1:8000 with one of these (shown once, write them down):")
    for name, password in demo.passwords.items():
        print(f"  {name:<10} {demo.members[name].role:<15} password: {password}")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _django()
    from uuid import UUID

    from bontrack.accounts.models import Clinic
    from bontrack.audit.anchor import checkpoint_file, compare_with_checkpoints, read_checkpoints
    from bontrack.audit.keys import AuditKeyError
    from bontrack.audit.records import verify_signed_records
    from bontrack.audit.services import verify_clinic_chain, verify_security_chain

    clinics = Clinic.objects.all()
    clinic_id = None
    if args.clinic:
        try:
            clinic_id = UUID(args.clinic)
        except ValueError:
            print(f"--clinic: {args.clinic!r} is not a clinic id (a UUID)", file=sys.stderr)
            return EXIT_INVALID
        clinics = clinics.filter(id=clinic_id)
        if not clinics.exists():
            print(f"--clinic: no clinic {args.clinic}", file=sys.stderr)
            return EXIT_INVALID
    reports = [verify_clinic_chain(c.id) for c in clinics]
    if not args.clinic:
        reports.append(verify_security_chain())
    broken = False
    for report in reports:
        if report.intact:
            print(f"{report.name}: intact, {report.entries} entries")
        else:
            broken = True
            print(f"{report.name}: BROKEN at entry {report.broken_at}: {report.problem}")
    try:
        anchors = read_checkpoints()
    except AuditKeyError as error:
        print(f"audit verify: {error}", file=sys.stderr)
        return EXIT_INVALID
    for problem in anchors.problems + compare_with_checkpoints(anchors, clinic_id):
        broken = True
        print(f"BROKEN: {problem}")
    if anchors.checkpoints:
        latest = anchors.checkpoints[-1]
        print(
            f"checkpoints: {len(anchors.checkpoints)} in {checkpoint_file()}, the latest of "
            f"{latest.at} ({latest.reason})"
        )
    else:
        print(
            f"checkpoints: none yet in {checkpoint_file()}: run `bontrack audit checkpoint` on a "
            "schedule (docs/operations.md), or the chains' last entries can be removed unseen"
        )
    records = verify_signed_records(clinic_id)
    for problem in records.problems:
        broken = True
        print(f"BROKEN: {problem}")
    print(
        f"signed records: {records.sessions} signed sessions, {records.events} appended events "
        f"and {records.consent_forms} signed consent forms checked against their digests"
    )
    return EXIT_BLOCK if broken else EXIT_OK


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    _django()
    from bontrack.audit.anchor import checkpoint_file, write_checkpoint

    written = write_checkpoint(reason="scheduled")
    print(
        f"checkpoint written to {checkpoint_file()}: the heads of {len(written['chains'])} chains "
        f"at {written['at']}"
    )
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    _django()
    from bontrack.ops.backup import BackupError, make_backup

    try:
        manifest = make_backup(Path(args.folder))
    except BackupError as error:
        print(f"backup: {error}", file=sys.stderr)
        return EXIT_INVALID
    rows = sum(manifest["row_counts"].values())
    print(
        f"Backup written to {args.folder}: {manifest['engine']} database, {rows} rows in "
        f"{len(manifest['row_counts'])} tables, {len(manifest['audit_heads'])} audit chains, "
        f"{len(manifest['files'])} files with their SHA-256 in {args.folder}/manifest.json"
    )
    for alias in manifest["storages_elsewhere"]:
        print(
            f"backup: the {alias!r} storage keeps its files outside this host's folders: back "
            "it up with its provider's own tools"
        )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    _django()
    from django.db import DatabaseError

    from bontrack.ops.backup import BackupError
    from bontrack.ops.restore import restore_backup

    try:
        report = restore_backup(Path(args.folder))
    except BackupError as error:
        print(f"restore: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (DatabaseError, ValueError, KeyError, TypeError) as error:
        # What the manifest's checks cannot see: a database file that is not one, a manifest
        # entry of the wrong shape. Named by its kind only: it may quote a patient's data.
        print(
            f"restore: the backup cannot be read back ({type(error).__name__}): its database or "
            "manifest is not what `bontrack backup` writes; restore another backup",
            file=sys.stderr,
        )
        return EXIT_INVALID
    for problem in report.problems:
        print(f"restore: {problem}", file=sys.stderr)
    if not report.ok:
        return EXIT_BLOCK
    checked = report.checked
    print(
        f"Restored and verified: {checked['tables']} tables with the backup's row counts and "
        "content, "
        f"{checked['clinics']} audit chains intact, {checked['signed_sessions']} signed sessions "
        f"whose digests verify, {checked['clinical_files']} photos and signed consent forms "
        f"with their SHA-256, {checked['second_factors']} second factors whose secrets open "
        "with the configured credentials key"
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bontrack", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check", help="check a plan (JSON) against the labels, no database needed"
    )
    check.add_argument("plan", help="path to the plan JSON, or - for standard input")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(handler=cmd_check)
    outcome = sub.add_parser(
        "outcome", help="judge the response on an outcome scale (JSON: baseline and follow-ups)"
    )
    outcome.add_argument("file", help="path to the outcome JSON, or - for standard input")
    outcome.add_argument("--json", action="store_true", help="print the result as JSON")
    outcome.set_defaults(handler=cmd_outcome)
    cat = sub.add_parser("catalog", help="list products, indications, protocols, sites and codes")
    cat.add_argument("--json", action="store_true")
    cat.set_defaults(handler=cmd_catalog)
    rec = sub.add_parser("reconstitute", help="mL per point, vials needed and use-by time")
    rec.add_argument("--product", required=True, help="product code, e.g. onabotulinumtoxinA")
    rec.add_argument("--vial", required=True, help="vial size in units, e.g. 200")
    rec.add_argument("--diluent", required=True, help="saline added, in mL (0: undiluted solution)")
    rec.add_argument("--protocol", help="protocol id, e.g. preempt-155")
    rec.add_argument("--units", help="units per point, instead of a protocol")
    rec.add_argument("--points", type=int, default=1, help="number of points with --units")
    rec.add_argument("--reconstituted-at", help="ISO 8601 time with offset; prints the use-by time")
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(handler=cmd_reconstitute)
    demo = sub.add_parser("demo", help="load a demo clinic (users, stock, patients with histories)")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no clinic"
    )
    demo.set_defaults(handler=cmd_demo)
    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="verify every audit chain, the security log, their checkpoints and signed records",
    )
    verify.add_argument("--clinic", help="verify this clinic's chain only")
    verify.set_defaults(handler=cmd_audit_verify)
    anchor = audit_sub.add_parser(
        "checkpoint",
        help="append a signed checkpoint of every chain's head to the checkpoint file",
    )
    anchor.set_defaults(handler=cmd_audit_checkpoint)
    backup = sub.add_parser("backup", help="back up the database and stored files, with a manifest")
    backup.add_argument("folder", help="a new or empty folder to write the backup into")
    backup.set_defaults(handler=cmd_backup)
    restore = sub.add_parser(
        "restore", help="restore a backup into an empty database and verify it"
    )
    restore.add_argument("folder", help="the backup's folder")
    restore.set_defaults(handler=cmd_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # a bug must not show a patient's data in a traceback
        print(
            f"bontrack: internal error ({type(error).__name__}); please report it", file=sys.stderr
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())
