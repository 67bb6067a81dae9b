"""Images that are blank, far too dark or bright, or unlikely to hold a face.

The face score is deliberately simple so a reader can reason about it: the cosine similarity between an
image's HOG vector (gradient orientations per cell) and the dataset's mean HOG vector. Aligned face crops
share the same edge layout (brows, eyes, nose, mouth) whatever the lighting; text, warning icons, cartoons
and blank frames do not. Raw-pixel correlation with the mean face was tried and rejected: it ranks faces on
bright backgrounds lowest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Outliers:
    mean: np.ndarray  # per-image mean intensity
    std: np.ndarray  # per-image standard deviation
    face_score: np.ndarray  # cosine similarity of the HOG vector to the mean HOG vector
    blank: np.ndarray  # bool masks, one per finding
    dark: np.ndarray
    bright: np.ndarray
    no_face: np.ndarray


def face_scores(hog: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine similarity of every HOG vector to the mean of the ``reference`` rows (0 for a flat image)."""
    template = hog[reference].mean(axis=0)
    template /= max(float(np.linalg.norm(template)), 1e-6)
    return (hog @ template) / np.maximum(np.linalg.norm(hog, axis=1), 1e-6)


def find_outliers(pixels: np.ndarray, hog: np.ndarray, readable: np.ndarray, settings) -> Outliers:
    """Per-image statistics and finding masks; unreadable images are never flagged here."""
    flat = pixels.reshape(len(pixels), -1).astype(np.float32)
    mean, std = flat.mean(axis=1), flat.std(axis=1)
    blank = readable & (std < settings.blank_std)
    reference = np.flatnonzero(readable & ~blank)
    score = face_scores(hog, reference) if len(reference) else np.zeros(len(pixels), np.float32)
    return Outliers(
        mean=mean,
        std=std,
        face_score=score,
        blank=blank,
        dark=readable & ~blank & (mean < settings.dark_mean),
        bright=readable & ~blank & (mean > settings.bright_mean),
        no_face=readable & ~blank & (score < settings.min_face_score),
    )
