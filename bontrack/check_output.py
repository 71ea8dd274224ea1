"""Render a check result as the JSON contract of DESIGN.md 3.3, or as a readable table."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

from bontrack.domain.check import CheckResult
from bontrack.domain.rules.findings import Finding
from bontrack.domain.units import format_decimal


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "overridable": finding.overridable,
        "message": finding.message,
        "source": finding.source,
        "sites": [{"site": s.site, "side": s.side} for s in finding.sites],
    }


def result_json(result: CheckResult) -> dict[str, Any]:
    return {
        "verdict": result.verdict,
        "product": result.product,
        "total_units": format_decimal(result.total.amount),
        "findings": [finding_json(f) for f in result.findings],
        "catalog_version": result.catalog_version,
    }


VERDICT_WORDS = {
    "ok": "OK: nothing asks for attention",
    "warn": "WARN: review the warnings before injecting",
    "block": "BLOCK: this plan must not be given as it stands",
}


def result_text(result: CheckResult) -> str:
    width = max(60, min(110, shutil.get_terminal_size((100, 20)).columns))
    lines = [
        f"Verdict: {VERDICT_WORDS[result.verdict]}",
        (
            f"Product: {result.product}    Total: {format_decimal(result.total.amount)} U    "
            f"Catalog: {result.catalog_version}"
        ),
    ]
    if not result.findings:
        lines.append("No findings.")
    for n, f in enumerate(result.findings, 1):
        head = f"{n}. [{f.severity.value.upper()}] {f.rule}"
        if f.overridable:
            head += " (a prescriber may override with a written reason)"
        lines.append("")
        lines.append(head)
        lines.extend(textwrap.wrap(f.message, width, initial_indent="   ", subsequent_indent="   "))
        if f.sites:
            sites = ", ".join(
                s.site if s.side == "midline" else f"{s.site} {s.side}" for s in f.sites
            )
            lines.extend(
                textwrap.wrap(
                    f"Sites: {sites}", width, initial_indent="   ", subsequent_indent="   "
                )
            )
        lines.extend(
            textwrap.wrap(
                f"Source: {f.source}", width, initial_indent="   ", subsequent_indent="   "
            )
        )
    return "\n".join(lines)
