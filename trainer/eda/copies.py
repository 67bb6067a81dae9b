"""Pixel statistics of the same faces in two copies of a dataset: FER+'s original pixels against the FER2013
copy (``fer2013-4class``), whose images were histogram-equalised.

A model trained on one copy meets the other's contrast on the device unless its preprocessing undoes the
difference; these numbers and the figure show how large that difference is. Only matched faces
(``annotators.read_matches``, the same picture in both) are compared, a seeded sample of them to keep the
audit cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .annotators import MATCH_FILE, Match
from .integrity import Scan, decode

HISTOGRAM_BINS = 64  # pixel intensities, 0..255
CONTRAST_BINS, CONTRAST_MAX = 32, 128  # per-image standard deviations, 0..128


def paired_root(root: Path, configured: Path | None) -> Path:
    """The other copy's folder: ``eda.paired_copy``, else the sibling the match file is named after."""
    return configured or root.parent / MATCH_FILE.removesuffix("-match.csv")


def statistics(pixels: np.ndarray) -> dict:
    """Intensity mean and spread over all pixels, per-image contrast, clipped pixels and the histogram."""
    values = pixels.reshape(len(pixels), -1).astype(np.float64)
    histogram, _ = np.histogram(values, bins=HISTOGRAM_BINS, range=(0, 256), density=True)
    contrast, _ = np.histogram(values.std(axis=1), bins=CONTRAST_BINS, range=(0, CONTRAST_MAX), density=True)
    return {
        "images": len(pixels),
        "mean": round(float(values.mean()), 1),
        "std": round(float(values.std()), 1),
        "mean_image_std": round(float(values.std(axis=1).mean()), 1),
        "clipped_share": round(float(((values == 0) | (values == 255)).mean()), 4),
        "histogram": histogram.round(6).tolist(),
        "image_std_histogram": contrast.round(6).tolist(),
    }


def compare_copies(scan: Scan, matches: list[Match], other_root: Path, max_distance: float, sample: int) -> dict:
    """Both copies' statistics over up to ``sample`` matched faces closer than ``max_distance``; faces that
    are missing or unreadable in either copy are counted, not compared. A missing folder is no error (the
    report says so): the match file can travel without the copy it names."""
    result = {"other_copy": str(other_root), "found": other_root.is_dir(), "max_distance": max_distance}
    if not result["found"]:
        return result
    index_of = {s.relative_to(scan.root): i for i, s in enumerate(scan.samples)}
    close = [m for m in matches if m.distance < max_distance and m.path in index_of]
    chosen = [close[i] for i in sorted(np.random.default_rng(0).permutation(len(close))[:sample])]
    ours, theirs = [], []
    for match in chosen:
        other, _, _ = decode(other_root / match.other_path, scan.pixels.shape[1])  # another size: resized
        if other is None or not scan.readable[index_of[match.path]]:
            continue
        ours.append(scan.pixels[index_of[match.path]])
        theirs.append(other)
    result.update(pairs_sampled=len(chosen), pairs_unreadable=len(chosen) - len(ours))
    if ours:
        result["this_copy"], result["paired_copy"] = statistics(np.stack(ours)), statistics(np.stack(theirs))
    return result
