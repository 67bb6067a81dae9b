"""The report's PNG figures: balance, what each class looks like, and examples of every problem found.

Montages are the only place image content leaves the dataset, and only as small grids for reading the
report; the raw files are never copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trainer.figures import plot_image_grid  # noqa: E402

DPI = 90


def save(figure, path: Path) -> str:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return path.name


def class_counts(counts: dict[str, dict[str, int]], classes: Sequence[str], path: Path) -> str:
    """Grouped bars: one group per class, one bar per split, so imbalance shows at a glance."""
    splits = list(counts)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(1, len(splits))
    for offset, split in enumerate(splits):
        values = [counts[split].get(label, 0) for label in classes]
        bars = axis.bar(np.arange(len(classes)) + offset * width, values, width, label=split)
        axis.bar_label(bars, fontsize=7)
    axis.set_xticks(np.arange(len(classes)) + width * (len(splits) - 1) / 2, classes)
    axis.set_ylabel("images")
    axis.set_title("Images per class and split")
    axis.legend()
    return save(figure, path)


def sample_grid(pixels: np.ndarray, rows: dict[str, np.ndarray], path: Path, columns: int = 12) -> str:
    """A row of random examples per class (indices chosen by the caller)."""
    figure, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.8, len(rows) * 0.9), squeeze=False)
    for r, (label, indices) in enumerate(rows.items()):
        for c in range(columns):
            axis = axes[r, c]
            axis.axis("off")
            if c < len(indices):
                axis.imshow(pixels[indices[c]], cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_title(label, loc="left", fontsize=9)
    figure.suptitle("Random training examples per class", fontsize=10)
    return save(figure, path)


def mean_faces(means: dict[str, np.ndarray], path: Path) -> str:
    """The average image of each class: shows alignment and any systematic difference between classes."""
    figure, axes = plt.subplots(1, len(means), figsize=(1.8 * len(means), 2.1), squeeze=False)
    for axis, (label, image) in zip(axes[0], means.items()):
        axis.imshow(image, cmap="gray")
        axis.set_title(label, fontsize=9)
        axis.axis("off")
    figure.suptitle("Mean face per class", fontsize=10)
    return save(figure, path)


def intensity_histograms(values: dict[str, np.ndarray], path: Path) -> str:
    """Pixel-intensity distribution per class (density), to spot a class shot under different conditions."""
    figure, axis = plt.subplots(figsize=(7, 3.2))
    for label, pixels in values.items():
        histogram, edges = np.histogram(pixels, bins=64, range=(0, 256), density=True)
        axis.plot((edges[:-1] + edges[1:]) / 2, histogram, label=label)
    axis.set_xlabel("pixel intensity")
    axis.set_ylabel("density")
    axis.set_title("Intensity histogram per class")
    axis.legend()
    return save(figure, path)


def montage(items: list[tuple[np.ndarray, str]], title: str, path: Path, columns: int = 8) -> str:
    """Small captioned grid of examples of one problem (for pairs, the caller interleaves the two copies)."""
    return plot_image_grid([image for image, _ in items], [caption for _, caption in items], title, path, columns).name
