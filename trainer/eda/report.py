"""``report.md`` (and ``report.html``): the audit's findings in the order a reader needs them.

Lists of files are capped so the report stays readable; ``findings.csv`` holds every finding and
``summary.json`` every count.
"""

from __future__ import annotations

from pathlib import Path

from .integrity import LAYOUT_REASONS, Issue

LISTED = 25  # files listed per finding kind in the report

EXPLANATIONS = {
    "corrupt": "cannot be decoded (unreadable or truncated file)",
    "wrong_format": "decodes, but is not a {size}x{size} grayscale image",
    "blank": "pixel standard deviation below {blank_std}: a blank or near-uniform frame",
    "extreme_brightness": "mean intensity below {dark_mean} or above {bright_mean}",
    "no_face": "face score below {min_face_score}: the cosine similarity of the image's HOG vector (edge orientations "
    "per 8x8 cell) to the dataset's mean HOG vector. Aligned faces share that edge layout whatever the lighting; "
    "text, icons and cartoons do not",
    "duplicate": "same picture as a kept file of the same split (pixel-identical, or perceptual hashes within "
    "{near_duplicate_bits} bits)",
    "leak": "same picture as a file of a more protected split (test > validation > train): the copy outside it is dropped",
    "label_issue": "confident learning (cleanlab) disagrees with the folder label, given the quick model's out-of-fold probabilities",
}


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def counts_section(summary: dict) -> list[str]:
    counts = summary["counts"]
    classes = list(next(iter(counts.values()), {}))
    rows = [[split, *(values.get(c, 0) for c in classes), sum(values.values())] for split, values in counts.items()]
    totals = [sum(counts[s].get(c, 0) for s in counts) for c in classes]
    rows.append(["**all**", *totals, sum(totals)])
    return ["## Balance", "", table(["split", *classes, "total"], rows), ""]


def listing(findings: list[Issue], reason: str) -> list[str]:
    chosen = [f for f in findings if f.reason == reason]
    if not chosen:
        return ["None found.", ""]
    lines = [f"- `{f.path}`: {f.detail}" for f in chosen[:LISTED]]
    if len(chosen) > LISTED:
        lines.append(f"- … and {len(chosen) - LISTED} more (see `findings.csv`)")
    return [f"{len(chosen)} file(s).", "", *lines, ""]


def figure(drawn: dict[str, str], key: str, alt: str) -> list[str]:
    return [f"![{alt}]({drawn[key]})", ""] if key in drawn else []


def problems_section(summary: dict, findings: list[Issue], drawn: dict[str, str], eda) -> list[str]:
    lines = ["## Findings", ""]
    explain = {k: v.format(size=eda.image_size, **eda.model_dump()) for k, v in EXPLANATIONS.items()}
    layout = summary["layout"]
    lines += ["### Folder layout", ""]
    lines += [f"- `{f['path']}`: {f['reason']} ({f['detail']})" for f in layout[:LISTED]] or [
        "No problems: every split and class folder exists and holds only images."
    ]
    lines.append("")
    for reason in ("corrupt", "wrong_format", "blank", "extreme_brightness", "no_face"):
        lines += [f"### {reason.replace('_', ' ').capitalize()}", "", f"_{explain[reason]}._", ""]
        lines += listing(findings, reason) + figure(drawn, reason, reason)
    dup = summary["duplicates"]
    lines += ["### Duplicates and leaks", "", f"_{explain['duplicate']}; {explain['leak']}._", ""]
    kinds = sorted(set(dup["exact_pairs"]) | set(dup["near_pairs"]), key=lambda k: ("-" in k, k))
    lines += [
        table(
            ["split(s)", "exact pairs", "near pairs"],
            [[k, dup["exact_pairs"].get(k, 0), dup["near_pairs"].get(k, 0)] for k in kinds],
        )
        if kinds
        else "No duplicate pairs.",
        "",
    ]
    lines += [
        f"{dup['pairs_with_different_labels']} of these pairs carry different class labels (the same face filed under two emotions).",
        "",
    ]
    lines += [
        f"Files dropped as duplicates: {dup['duplicate_files_dropped'] or 'none'}; as leaks: {dup['leak_files_dropped'] or 'none'}. "
        "Test files are never dropped (duplicates inside test are only reported).",
        "",
    ]
    lines += figure(drawn, "duplicate", "duplicates") + figure(drawn, "leak", "leaks")
    lines += ["#### Leaks", ""] + listing(findings, "leak")
    lines += ["### Label noise", ""]
    noise = summary["label_noise"]
    if noise is None:
        lines += ["Skipped (`trainer.eda.label_noise: false` or too few images).", ""]
    else:
        lines += [
            f"_{explain['label_issue']}._ Model: {noise['model']}, {noise['folds']} folds over {noise['scored']} "
            f"train + validation images; out-of-fold accuracy **{noise['oof_accuracy']:.1%}**. A weak model flags "
            "hard but correct images too: treat these as candidates to review, not as errors.",
            "",
        ]
        lines += [table(["class", "flagged"], [[c, n] for c, n in noise["flagged_per_class"].items()]), ""]
        lines += figure(drawn, "label_issue", "label issues") + listing(findings, "label_issue")
    return lines


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def votes_section(agreement: dict, drawn: dict[str, str]) -> list[str]:
    rows = []
    for label, entry in agreement["per_class"].items():
        histogram, images = {int(k): n for k, n in entry["histogram"].items()}, entry["images"]
        rows.append(
            [
                label,
                images,
                entry["mean_agreeing"] if images else "-",
                share(histogram.get(10, 0), images),
                share(sum(n for k, n in histogram.items() if k >= 8), images),
                share(sum(n for k, n in histogram.items() if k <= 5), images),
            ]
        )
    annotators = ", ".join(f"{k} annotators for {n} image(s)" for k, n in agreement["annotators_per_image"].items())
    lines = [
        "### Annotator agreement",
        "",
        f"_From `{agreement['file']}`: for each face, how many of its annotators "
        f"voted for the class it is filed under ({annotators})._",
        "",
        table(["class", "images", "mean agreeing", "10 agree", "8 or more", "5 or fewer"], rows),
        "",
    ]
    if agreement["images_without_votes"]:
        lines += [f"{agreement['images_without_votes']} image(s) have no row in `{agreement['file']}`.", ""]
    return lines + figure(drawn, "votes", "vote agreement")


def label_agreement_section(labels: dict, drawn: dict[str, str]) -> list[str]:
    classes, columns, counts = labels["classes"], labels["columns"], labels["counts"]
    rows = [
        [f"**{label}**", *(f"{n} ({share(n, sum(row))})" for n in row), sum(row)] for label, row in zip(classes, counts)
    ]
    agreement = f"{labels['agreement']:.1%}" if labels["agreement"] is not None else "-"
    return [
        "### FER2013 labels against the FER+ majority",
        "",
        f"_From `{labels['file']}`: {labels['pairs']} of its {labels['pairs_in_file']} pairs are closer than "
        f"{labels['max_distance']:g} (`trainer.eda.match_max_distance`), the same face in both copies; "
        f"{labels['pairs_with_fer2013_label_outside']} of them have a FER2013 label outside the classes and are left out. "
        "Rows: FER2013's label (one annotator); columns: the FER+ majority (ten), `other` where it is none of the "
        "classes (another emotion, a tie, not a face); counts and row shares._",
        "",
        table(["FER2013 label", *(f"FER+ {c}" for c in columns), "faces"], rows),
        "",
        f"FER2013's label is the FER+ majority for **{agreement}** of these faces.",
        "",
        *figure(drawn, "label_agreement", "label agreement"),
    ]


def copies_section(copies: dict, data_dir: str, drawn: dict[str, str]) -> list[str]:
    lines = ["### Pixels of both copies", ""]
    if not copies["found"]:
        return lines + [
            f"The paired copy `{copies['other_copy']}` is not there (`trainer.eda.paired_copy`): not compared.",
            "",
        ]
    if "this_copy" not in copies:
        return lines + ["No matched face could be read in both copies.", ""]
    header = ["copy", "faces", "mean", "std", "mean per-image std", "pixels at 0 or 255"]
    rows = [
        [name, s["images"], s["mean"], s["std"], s["mean_image_std"], f"{s['clipped_share']:.1%}"]
        for name, s in (
            (f"`{data_dir}` (this)", copies["this_copy"]),
            (f"`{copies['other_copy']}`", copies["paired_copy"]),
        )
    ]
    return lines + [
        f"_The same faces (a seeded sample of the matched pairs closer than {copies['max_distance']:g}; "
        f"{copies['pairs_unreadable']} unreadable in a copy) in both copies: grey-level statistics over all their pixels._",
        "",
        table(header, rows),
        "",
        *figure(drawn, "copies", "pixels of both copies"),
    ]


def annotations_section(summary: dict, drawn: dict[str, str]) -> list[str]:
    """Only for a dataset that brings the files (FER+): nothing at all otherwise."""
    parts = []
    if summary.get("vote_agreement"):
        parts += votes_section(summary["vote_agreement"], drawn)
    if summary.get("label_agreement"):
        parts += label_agreement_section(summary["label_agreement"], drawn)
    if summary.get("copies"):
        parts += copies_section(summary["copies"], summary["data_dir"], drawn)
    return ["## Annotations and copies", "", *parts] if parts else []


def manifest_section(summary: dict, eda) -> list[str]:
    m = summary["manifest"]
    return [
        "## Cleaned manifest",
        "",
        f"`manifest.csv` lists {m['rows']} files: **{m['kept']} kept, {m['excluded']} excluded**. Reasons that exclude: "
        f"{', '.join(eda.exclude)} (`trainer.eda.exclude`). Files are never moved or deleted; training reads this list.",
        "",
        table(["reason", "files"], [[r, n] for r, n in m["excluded_by_reason"].items()])
        if m["excluded_by_reason"]
        else "Nothing excluded.",
        "",
        table(["split", "kept", "excluded"], [[s, v["kept"], v["excluded"]] for s, v in m["per_split"].items()]),
        "",
    ]


def write(out: Path, summary: dict, findings: list[Issue], drawn: dict[str, str], eda) -> None:
    """Write ``report.md`` and, through the ``markdown`` package, ``report.html`` next to it."""
    lines = [
        "# Dataset audit",
        "",
        f"Data: `{summary['data_dir']}`, {summary['images']} image files; audit took {summary['runtime_s']:.0f} s. "
        "Every finding with its detail is in `findings.csv`, every count in `summary.json`.",
        "",
    ]
    lines += counts_section(summary) + figure(drawn, "counts", "class counts")
    lines += ["## What the classes look like", ""]
    lines += (
        figure(drawn, "samples", "samples")
        + figure(drawn, "mean_faces", "mean faces")
        + figure(drawn, "histograms", "brightness and contrast")
    )
    lines += annotations_section(summary, drawn)
    lines += problems_section(summary, [f for f in findings if f.reason not in LAYOUT_REASONS], drawn, eda)
    lines += manifest_section(summary, eda)
    text = "\n".join(lines)
    (out / "report.md").write_text(text, encoding="utf-8")
    import markdown

    body = markdown.markdown(text, extensions=["tables"])
    (out / "report.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>Dataset audit</title>\n{body}\n", encoding="utf-8"
    )
