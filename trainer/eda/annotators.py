"""What the labels themselves say, when a dataset brings its annotations (FER+, ``ferplus-4class``).

- ``votes.csv``: ten crowd annotators per face. How many of them chose the class the face is filed under
  tells how clear each class is: a class whose faces split 5-4 cannot be learned as cleanly as one
  annotators agree on.
- ``fer2013-4class-match.csv``: which face of the FER2013 copy (one annotator's label) each FER+ face is.
  Counting FER2013's label against the FER+ majority on the same faces measures FER2013's label noise.

Both are optional: a dataset without them is audited as before, and their sections are left out.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.errors import UserError
from trainer.votes import VOTES_FILE, read_votes

if TYPE_CHECKING:  # integrity imports ANNOTATION_FILES from here
    from .integrity import Scan

# FER+'s ten vote columns, by the names trainer.votes reads them under (happy and sad are its happiness, sadness).
VOTE_CLASSES = ("neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt", "unknown", "NF")
MATCH_FILE = "fer2013-4class-match.csv"
MATCH_COLUMNS = ("fer2013_path", "fer2013_label", "ferplus_path", "ferplus_majority", "distance")
ANNOTATION_FILES = (VOTES_FILE, MATCH_FILE)  # files of the dataset beside its splits, not stray files
OUTSIDE = "other"  # a FER+ majority outside the classes (another emotion, a tie, not a face): an empty ferplus_majority


@dataclass(frozen=True)
class Match:
    """One face in both copies: its path in this dataset and in the other copy, each copy's label."""

    path: str  # in this (FER+) dataset, relative to its root
    other_path: str  # in the FER2013 copy, relative to that copy's root
    label: str  # FER+ majority; empty when outside this dataset's classes (the face is not in it)
    other_label: str  # FER2013's single label
    distance: float  # mean squared difference of the two faces' thumbnails: below ~20 the same picture


def vote_agreement(scan: Scan) -> dict | None:
    """Per class, how many annotators voted for the face's own class: a histogram over 0..10 (more
    annotators, more bins), its mean and the images without votes. None without ``votes.csv``."""
    if not (scan.root / VOTES_FILE).is_file():
        return None
    columns = list(dict.fromkeys([*scan.classes, *VOTE_CLASSES]))
    votes = read_votes(scan.root, columns)
    agreeing: dict[str, Counter] = {label: Counter() for label in scan.classes}
    annotators, without = Counter(), 0
    for sample in scan.samples:
        counts = votes.get(sample.relative_to(scan.root))
        if counts is None:
            without += 1
            continue
        agreeing[sample.label][int(counts[columns.index(sample.label)])] += 1
        annotators[int(counts.sum())] += 1
    per_class = {}
    for label, histogram in agreeing.items():
        images = sum(histogram.values())
        per_class[label] = {
            "images": images,
            "mean_agreeing": round(sum(k * n for k, n in histogram.items()) / images, 2) if images else None,
            "histogram": {str(k): histogram[k] for k in sorted(histogram)},
        }
    return {
        "file": VOTES_FILE,
        "annotators_per_image": {str(k): n for k, n in sorted(annotators.items())},
        "images_without_votes": without,
        "per_class": per_class,
    }


def read_matches(root: Path) -> list[Match] | None:
    """Every row of ``fer2013-4class-match.csv`` beside the splits; None when the dataset has none."""
    path = root / MATCH_FILE
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in MATCH_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: no column {missing[0]} (expected {', '.join(MATCH_COLUMNS)})")
            return [
                Match(
                    row["ferplus_path"],
                    row["fer2013_path"],
                    row["ferplus_majority"],
                    row["fer2013_label"],
                    float(row["distance"]),
                )
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise UserError(f"{path}: cannot read the matches ({type(exc).__name__}: {exc})") from None


def label_agreement(matches: list[Match], classes: Sequence[str], max_distance: float) -> dict:
    """Counts of (FER2013 label, FER+ majority) over the pairs closer than ``max_distance``: rows FER2013's
    ``classes``, columns FER+'s and ``OUTSIDE`` (FER+ calls the face none of them: a disagreement too). A
    FER2013 label outside ``classes`` is counted apart, not dropped silently."""
    close = [m for m in matches if m.distance < max_distance]
    inside = [m for m in close if m.other_label in classes]
    counts = np.zeros((len(classes), len(classes) + 1), dtype=int)
    for match in inside:
        column = classes.index(match.label) if match.label in classes else len(classes)
        counts[classes.index(match.other_label), column] += 1
    return {
        "file": MATCH_FILE,
        "max_distance": max_distance,
        "pairs_in_file": len(matches),
        "pairs": len(close),
        "pairs_with_fer2013_label_outside": len(close) - len(inside),
        "classes": list(classes),
        "columns": [*classes, OUTSIDE],
        "counts": counts.tolist(),
        "agreement": round(float(np.trace(counts) / counts.sum()), 4) if counts.sum() else None,
    }
