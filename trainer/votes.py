"""Soft labels from FER+'s ten annotators (``votes.csv`` beside the splits): each face's target is the
share of votes each of ``trainer.classes`` got.

The FER+ paper (Barsoum et al. 2016) trained best towards that vote distribution rather than the majority
label: a face that four of ten call sad is not the same training signal as one all ten call sad. Votes for
classes outside ``trainer.classes`` (anger, fear, contempt, unknown, ...) are left out and the rest
renormalised; every face kept has its majority among the classes, so none is left with no votes.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.errors import UserError

VOTES_FILE = "votes.csv"
VOTE_COLUMNS = {"happy": "happiness", "sad": "sadness"}  # FER+'s column where it differs from the class name


def read_votes(data_dir: Path, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Vote counts per class, by path relative to ``data_dir`` (POSIX separators)."""
    path = data_dir / VOTES_FILE
    columns = [VOTE_COLUMNS.get(name, name) for name in classes]
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ["path", *columns] if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: no column {missing[0]} (expected path and a vote count per class)")
            return {row["path"]: np.array([float(row[c]) for c in columns], dtype=np.float32) for row in reader}
    except FileNotFoundError:
        raise UserError(
            f"{path}: votes file not found (train.targets: votes needs FER+'s votes.csv in the data folder)"
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise UserError(f"{path}: cannot read the votes ({type(exc).__name__}: {exc})") from None


def vote_targets(data_dir: Path, paths: Sequence[Path], classes: Sequence[str]) -> np.ndarray:
    """(N, classes) vote shares of the files ``paths`` (under ``data_dir``), in ``classes`` order."""
    votes = read_votes(data_dir, classes)
    targets = []
    for path in paths:
        key = Path(path).relative_to(data_dir).as_posix()
        counts = votes.get(key)
        if counts is None:
            raise UserError(f"{data_dir / VOTES_FILE}: no votes for {key}")
        if counts.sum() <= 0:
            raise UserError(f"{data_dir / VOTES_FILE}: {key} has no votes for any of {', '.join(classes)}")
        targets.append(counts / counts.sum())
    return np.stack(targets)
