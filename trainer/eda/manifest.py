"""Turn the audit's findings into per-file reasons and the cleaned manifest that training reads.

Findings are collected per file whatever ``exclude`` says, so the report and ``findings.csv`` show
everything; ``exclude`` only decides which reasons set ``keep = 0``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from trainer.dataset import ManifestRow, write_manifest

from .integrity import Issue, Scan

# The order reasons are listed in, most fundamental first.
REASON_ORDER = ("corrupt", "wrong_format", "blank", "leak", "duplicate", "extreme_brightness", "no_face", "label_issue")


def per_file(findings: Iterable[Issue]) -> dict[str, list[Issue]]:
    """Findings grouped by file path, each file's in ``REASON_ORDER``."""
    grouped: dict[str, list[Issue]] = {}
    for issue in findings:
        grouped.setdefault(issue.path, []).append(issue)
    for issues in grouped.values():
        issues.sort(key=lambda i: REASON_ORDER.index(i.reason) if i.reason in REASON_ORDER else len(REASON_ORDER))
    return grouped


def manifest_rows(scan: Scan, findings: Iterable[Issue], exclude: Iterable[str]) -> list[ManifestRow]:
    """One row per file in a class folder; non-image files are listed but can never be kept."""
    excluded = set(exclude)
    grouped = per_file(findings)
    rows = []
    for sample in scan.samples:
        path = sample.relative_to(scan.root)
        reasons = [i.reason for i in grouped.get(path, []) if i.reason in excluded]
        rows.append(ManifestRow(sample.split, sample.label, path, not reasons, ";".join(dict.fromkeys(reasons))))
    for sample in scan.non_images:
        rows.append(ManifestRow(sample.split, sample.label, sample.relative_to(scan.root), False, "not_image"))
    return rows


def manifest_summary(rows: list[ManifestRow]) -> dict:
    """Counts of kept and excluded files, overall, per split and per exclusion reason."""
    reasons = Counter(reason for row in rows if not row.keep for reason in row.reason.split(";"))
    per_split = Counter((row.split, row.keep) for row in rows)
    splits = sorted({row.split for row in rows})
    return {
        "rows": len(rows),
        "kept": sum(row.keep for row in rows),
        "excluded": sum(not row.keep for row in rows),
        "excluded_by_reason": dict(sorted(reasons.items())),
        "per_split": {s: {"kept": per_split[(s, True)], "excluded": per_split[(s, False)]} for s in splits},
    }


def write_outputs(out: Path, rows: list[ManifestRow], findings: list[Issue]) -> None:
    """``manifest.csv`` (training's file list) and ``findings.csv`` (every finding with its detail)."""
    write_manifest(out / "manifest.csv", rows)
    with (out / "findings.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "reason", "detail"))
        for issue in sorted(findings, key=lambda i: (i.reason, i.path)):
            writer.writerow((issue.path, issue.reason, issue.detail))
