"""``trainer eda``: audit a folder dataset and write a visual report plus a cleaned manifest.

The audit reads every file once (``integrity``), then looks for duplicates and cross-split leaks
(``duplicates``), outliers (``outliers``) and likely label errors (``label_noise``). ``manifest`` turns
the findings into ``manifest.csv``; ``figures`` and ``report`` write what a person reads. A dataset that
brings annotations (FER+'s ``votes.csv``, its match to the FER2013 copy) also gets their agreement and
both copies' pixel statistics (``annotators``, ``copies``). The user's files are never moved, changed or
deleted.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np

from common.errors import UserError

from . import figures, report
from .annotators import label_agreement, read_matches, vote_agreement
from .copies import compare_copies, paired_root
from .duplicates import Pair, find_pairs, groups_of, resolve
from .features import hog
from .integrity import LAYOUT_REASONS, Issue, Scan, scan_dataset
from .label_noise import LabelIssues, find_label_issues
from .manifest import manifest_rows, manifest_summary, write_outputs
from .outliers import Outliers, find_outliers

EXAMPLES = 16  # images per problem montage
CAPTION_WIDTH = 24  # characters that fit under a montage tile


def run_audit(settings) -> int:
    """Run the whole audit on ``settings.data_dir`` and write everything to ``settings.eda.out_dir``."""
    root, eda = settings.data_dir, settings.eda
    if not root.is_dir():
        raise UserError(f"{root}: data folder not found (expected {root}/<split>/<class>/*.jpg)")
    started = time.perf_counter()
    out = eda.out_dir
    out.mkdir(parents=True, exist_ok=True)

    scan = scan_dataset(root, settings.classes, eda.image_size)
    if not scan.samples:
        raise UserError(
            f"{root}: no images in any <split>/<class> folder (classes {', '.join(settings.classes)}; "
            "is it the dataset root?)"
        )
    vectors = hog(scan.pixels)
    outliers = find_outliers(scan.pixels, vectors, scan.readable, eda)
    pairs = find_pairs(scan.pixels, np.flatnonzero(scan.readable & ~outliers.blank), eda.near_duplicate_bits)
    splits = [s.split for s in scan.samples]
    problem_paths = {issue.path for issue in scan.issues}
    flawed = {i for i in range(len(scan.samples)) if scan.rel(i) in problem_paths}
    drops = resolve(groups_of(pairs), splits, flawed)
    labels = np.array([settings.classes.index(s.label) for s in scan.samples], dtype=int)
    issues = None
    if eda.label_noise:
        scored = np.flatnonzero(scan.readable & ~outliers.blank & (np.array(splits) != "test"))
        issues = find_label_issues(scan.pixels, vectors, labels, scored, len(settings.classes), eda.folds)

    findings = scan.issues + duplicate_findings(scan, drops, pairs) + outlier_findings(scan, outliers)
    findings += label_findings(scan, issues, settings.classes)
    rows = manifest_rows(scan, findings, eda.exclude)
    write_outputs(out, rows, findings)
    summary = build_summary(scan, outliers, pairs, drops, issues, rows, findings, eda)
    summary.update(annotation_summary(scan, settings))
    summary["runtime_s"] = round(time.perf_counter() - started, 1)
    drawn = draw_figures(scan, outliers, pairs, drops, issues, findings, out)
    drawn.update(draw_annotation_figures(summary, out))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report.write(out, summary, findings, drawn, eda)
    m = summary["manifest"]
    print(f"eda: {len(scan.samples)} images, {m['excluded']} excluded, {m['kept']} kept -> {out / 'report.md'}")
    return 0


def annotation_summary(scan: Scan, settings) -> dict:
    """Vote agreement, FER2013-vs-FER+ labels and both copies' pixels; each None when its file is absent."""
    eda = settings.eda
    matches = read_matches(scan.root)
    summary = {"vote_agreement": vote_agreement(scan), "label_agreement": None, "copies": None}
    if matches is not None:
        summary["label_agreement"] = label_agreement(matches, settings.classes, eda.match_max_distance)
        summary["copies"] = compare_copies(
            scan, matches, paired_root(scan.root, eda.paired_copy), eda.match_max_distance, eda.paired_sample
        )
    return summary


def draw_annotation_figures(summary: dict, out) -> dict[str, str]:
    drawn = {}
    if summary["vote_agreement"]:
        drawn["votes"] = figures.vote_agreement(summary["vote_agreement"]["per_class"], out / "vote_agreement.png")
    labels = summary["label_agreement"]
    if labels and labels["pairs"]:
        drawn["label_agreement"] = figures.label_agreement(labels, out / "label_agreement.png")
    copies = summary["copies"]
    if copies and "this_copy" in copies:
        names = (f"{Path(summary['data_dir']).name} (this dataset)", Path(copies["other_copy"]).name)
        drawn["copies"] = figures.copy_statistics(
            copies["this_copy"], copies["paired_copy"], names, out / "copy_pixels.png"
        )
    return drawn


def duplicate_findings(scan: Scan, drops: dict[int, tuple[str, int]], pairs: list[Pair]) -> list[Issue]:
    """One finding per dropped copy, naming the file it copies and whether the copy is pixel-exact."""
    exact = {(p.a, p.b) for p in pairs if p.exact}
    findings = []
    for index, (reason, keeper) in sorted(drops.items()):
        kind = "exact" if (min(index, keeper), max(index, keeper)) in exact else "near"
        findings.append(Issue(scan.rel(index), reason, f"{kind} copy of {scan.rel(keeper)}"))
    return findings


def outlier_findings(scan: Scan, outliers: Outliers) -> list[Issue]:
    findings = []
    for index in np.flatnonzero(outliers.blank):
        findings.append(Issue(scan.rel(index), "blank", f"pixel std {outliers.std[index]:.1f}"))
    for index in np.flatnonzero(outliers.dark | outliers.bright):
        kind = "dark" if outliers.dark[index] else "bright"
        findings.append(Issue(scan.rel(index), "extreme_brightness", f"{kind}: mean {outliers.mean[index]:.0f}"))
    for index in np.flatnonzero(outliers.no_face):
        findings.append(Issue(scan.rel(index), "no_face", f"face score {outliers.face_score[index]:.2f}"))
    return findings


def label_findings(scan: Scan, issues: LabelIssues | None, classes: list[str]) -> list[Issue]:
    if issues is None:
        return []
    return [
        Issue(scan.rel(index), "label_issue", f"labelled {classes[given]}, model says {classes[predicted]}")
        for index, given, predicted in zip(issues.indices, issues.given, issues.predicted)
    ]


def pair_kind(scan: Scan, pair: Pair) -> str:
    """'train' for a pair inside train, 'train-test' for a cross-split pair (fixed split order)."""
    order = ("train", "validation", "test")
    a, b = sorted((scan.samples[pair.a].split, scan.samples[pair.b].split), key=order.index)
    return a if a == b else f"{a}-{b}"


def build_summary(scan, outliers, pairs, drops, issues, rows, findings, eda) -> dict:
    """Every count the report shows, as JSON-friendly dicts."""
    counts = report_counts(scan)
    pair_counts = {"exact": Counter(), "near": Counter()}
    for pair in pairs:
        pair_counts["exact" if pair.exact else "near"][pair_kind(scan, pair)] += 1
    dropped = Counter((reason, scan.samples[i].split) for i, (reason, _) in drops.items())
    by_reason = Counter(f.reason for f in findings)
    summary = {
        "data_dir": str(scan.root),
        "images": len(scan.samples),
        "counts": {s: {c: counts[s].get(c, 0) for c in scan.classes} for s in counts},
        "layout": [vars(f) for f in scan.issues if f.reason in LAYOUT_REASONS],
        "integrity": {r: by_reason.get(r, 0) for r in ("corrupt", "wrong_format", *LAYOUT_REASONS)},
        "duplicates": {
            "near_duplicate_bits": eda.near_duplicate_bits,
            "exact_pairs": dict(pair_counts["exact"]),
            "near_pairs": dict(pair_counts["near"]),
            "pairs_with_different_labels": sum(scan.samples[p.a].label != scan.samples[p.b].label for p in pairs),
            "duplicate_files_dropped": {s: n for (r, s), n in dropped.items() if r == "duplicate"},
            "leak_files_dropped": {s: n for (r, s), n in dropped.items() if r == "leak"},
        },
        "outliers": {
            "blank": int(outliers.blank.sum()),
            "dark": int(outliers.dark.sum()),
            "bright": int(outliers.bright.sum()),
            "no_face": int(outliers.no_face.sum()),
            "thresholds": {
                "blank_std": eda.blank_std,
                "dark_mean": eda.dark_mean,
                "bright_mean": eda.bright_mean,
                "min_face_score": eda.min_face_score,
            },
        },
        "label_noise": None,
        "manifest": manifest_summary(rows),
    }
    if issues is not None:
        per_class = Counter(scan.classes[g] for g in issues.given)
        summary["label_noise"] = {
            "model": "logistic regression on PCA(HOG + 24x24 pixels), out-of-fold",
            "folds": eda.folds,
            "scored": issues.scored,
            "oof_accuracy": round(issues.accuracy, 4),
            "flagged": int(len(issues.indices)),
            "flagged_per_class": {c: per_class.get(c, 0) for c in scan.classes},
        }
    return summary


def draw_figures(scan, outliers, pairs, drops, issues, findings, out) -> dict[str, str]:
    """All PNGs; returns figure key -> file name (problem montages only when there is something to show)."""
    rng = np.random.default_rng(0)
    usable = scan.readable & ~outliers.blank
    labels = np.array([s.label for s in scan.samples])
    train = np.array([s.split == "train" for s in scan.samples])
    pool = {
        c: np.flatnonzero(usable & (labels == c) & (train if (usable & train).any() else True)) for c in scan.classes
    }
    pool = {c: idx for c, idx in pool.items() if len(idx)}
    drawn = {"counts": figures.class_counts(report_counts(scan), scan.classes, out / "class_counts.png")}
    if pool:
        drawn["samples"] = figures.sample_grid(
            scan.pixels, {c: rng.permutation(i)[:12] for c, i in pool.items()}, out / "samples_per_class.png"
        )
        drawn["mean_faces"] = figures.mean_faces(
            {c: scan.pixels[i].mean(axis=0) for c, i in pool.items()}, out / "mean_face_per_class.png"
        )
        drawn["histograms"] = figures.brightness_and_contrast(
            {c: scan.pixels[i] for c, i in pool.items()}, out / "intensity_per_class.png"
        )
    by_reason: dict[str, list[Issue]] = {}
    for finding in findings:
        by_reason.setdefault(finding.reason, []).append(finding)
    index_of = {s.relative_to(scan.root): i for i, s in enumerate(scan.samples)}
    for reason in ("wrong_format", "blank", "extreme_brightness", "no_face", "label_issue"):
        chosen = by_reason.get(reason, [])
        if reason == "no_face":
            chosen = sorted(chosen, key=lambda f: outliers.face_score[index_of[f.path]])
        items = [(scan.pixels[index_of[f.path]], caption(f.path, f.detail)) for f in chosen[:EXAMPLES]]
        if items:
            drawn[reason] = figures.montage(
                items,
                f"{reason.replace('_', ' ')} (first {len(items)} of {len(chosen)})",
                out / f"problem_{reason}.png",
            )
    for reason in ("duplicate", "leak"):
        chosen = [(i, k) for i, (r, k) in sorted(drops.items()) if r == reason][: EXAMPLES // 2]
        items = [
            pair
            for i, k in chosen
            for pair in (
                (scan.pixels[k], caption(scan.rel(k), "kept")),
                (scan.pixels[i], caption(scan.rel(i), f"dropped: {reason}")),
            )
        ]
        if items:
            drawn[reason] = figures.montage(
                items, f"{reason}s: kept copy, then dropped copy", out / f"problem_{reason}.png"
            )
    return drawn


def report_counts(scan: Scan) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for sample in scan.samples:
        counts.setdefault(sample.split, Counter())[sample.label] += 1
    return counts


def caption(path: str, detail: str) -> str:
    """Short lines under a montage tile: split/class/, …name, then the reason's detail on two lines, one per
    clause ("labelled sad" / "model says neutral": a label issue's point is the model's guess at the end, so
    the detail is wrapped, never cut to the tile's width)."""
    split_label, _, name = path.rpartition("/")
    name = name if len(name) <= 18 else "…" + name[-17:]
    lines = [line for clause in detail.split(", ") for line in textwrap.wrap(clause, CAPTION_WIDTH)]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: CAPTION_WIDTH - 1] + "…"]
    return "\n".join([f"{split_label}/", name, *lines])
