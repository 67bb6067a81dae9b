"""Cheap, lighting-robust image descriptors shared by the face score and the label-noise model.

HOG (histograms of oriented gradients) describes shape (eyes, brows, mouth) rather than brightness,
so two faces under different lighting still look alike, and a face looks unlike text or a cartoon.
Implemented in numpy because OpenCV 5's main package no longer ships ``HOGDescriptor``.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

CELL = 8
BINS = 9
CHUNK = 2048  # images per batch: keeps the (chunk, H, W, BINS) float32 histogram tensor under ~200 MB


def cell_histograms(images: np.ndarray) -> np.ndarray:
    """Per-cell magnitude-weighted histograms of unsigned gradient orientation, shape (N, cy, cx, BINS)."""
    x = images.astype(np.float32)
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    gy[:, 1:-1, :] = x[:, 2:, :] - x[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    orientation = (np.degrees(np.arctan2(gy, gx)) % 180.0) * (BINS / 180.0)
    bins = np.minimum(orientation.astype(np.int64), BINS - 1)
    n, h, w = x.shape
    cy, cx = h // CELL, w // CELL
    votes = np.zeros((n, h, w, BINS), np.float32)
    np.put_along_axis(votes, bins[..., None], magnitude[..., None], axis=3)
    votes = votes[:, : cy * CELL, : cx * CELL]
    return votes.reshape(n, cy, CELL, cx, CELL, BINS).sum(axis=(2, 4))


def block_normalise(cells: np.ndarray) -> np.ndarray:
    """2x2-cell blocks with stride one cell, each L2-normalised, flattened to one vector per image."""
    blocks = np.concatenate([cells[:, :-1, :-1], cells[:, 1:, :-1], cells[:, :-1, 1:], cells[:, 1:, 1:]], axis=3)
    blocks /= np.sqrt((blocks**2).sum(axis=3, keepdims=True) + 1e-6)
    return blocks.reshape(len(cells), -1)


def hog(images: np.ndarray, progress: bool = True) -> np.ndarray:
    """HOG vectors (900 values for 48x48 images) for a stack of grayscale images."""
    chunks = range(0, len(images), CHUNK)
    parts = [
        block_normalise(cell_histograms(images[i : i + CHUNK]))
        for i in tqdm(chunks, desc="hog", unit="chunk", disable=not progress)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
