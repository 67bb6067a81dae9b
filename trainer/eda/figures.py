"""The report's PNG figures: balance, what each class looks like, and examples of every problem found.

Montages are the only place image content leaves the dataset, and only as small grids for reading the
report; the raw files are never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trainer.figures import plot_confusion, plot_image_grid  # noqa: E402

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


def brightness_and_contrast(values: dict[str, np.ndarray], path: Path) -> str:
    """Per class, the distribution of each image's mean (brightness) and standard deviation (contrast), side
    by side: a class shot under other lighting stands out, and no class hides behind another. (Pooled pixel
    histograms of histogram-equalised faces are flat by construction and show nothing.)"""
    labels = list(values)
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
    for axis, measure, name in ((axes[0], np.mean, "brightness: image mean"), (axes[1], np.std, "contrast: image std")):
        per_image = [measure(pixels.reshape(len(pixels), -1), axis=1) for pixels in values.values()]
        boxes = axis.boxplot(per_image, patch_artist=True, showfliers=False, widths=0.6, medianprops={"color": "black"})
        for box, colour in zip(boxes["boxes"], plt.rcParams["axes.prop_cycle"].by_key()["color"]):
            box.set(facecolor=colour, alpha=0.6)
        axis.set_xticks(range(1, len(labels) + 1), labels)
        axis.set_ylabel("grey level")
        axis.set_title(name, fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle("Brightness and contrast per class (boxes: quartiles; whiskers: 1.5 IQR)", fontsize=10)
    return save(figure, path)


def vote_agreement(per_class: dict[str, dict], path: Path) -> str:
    """One bar per class, split by how many annotators voted for the face's class (10 of 10 at the left):
    how clear-cut each class's faces are."""
    levels = sorted({int(k) for entry in per_class.values() for k in entry["histogram"]}, reverse=True)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.95, max(1, len(levels))))
    labels = [label for label, entry in per_class.items() if entry["images"]]
    figure, axis = plt.subplots(figsize=(7.5, 0.5 + 0.55 * len(labels)))
    left = np.zeros(len(labels))
    for level, colour in zip(levels, colours):
        shares = np.array([per_class[c]["histogram"].get(str(level), 0) / per_class[c]["images"] for c in labels])
        axis.barh(labels, shares, left=left, color=colour, label=str(level))
        for y, (start, share) in enumerate(zip(left, shares)):
            if share >= 0.06:
                axis.text(
                    start + share / 2,
                    y,
                    f"{share:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if level > levels[0] - len(levels) / 2 else "black",
                )
        left += shares
    axis.set_yticks(range(len(labels)), [f"{c} (mean {per_class[c]['mean_agreeing']:.1f})" for c in labels])
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of the class's faces")
    axis.legend(
        title="annotators agreeing",
        fontsize=7,
        title_fontsize=7,
        ncol=len(levels),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 if len(labels) > 2 else -0.5),
        frameon=False,
    )
    axis.set_title("How many annotators voted for the face's class", fontsize=10)
    return save(figure, path)


def label_agreement(agreement: dict, path: Path) -> str:
    """FER2013's single label (rows) against the FER+ majority (columns) on the same faces, row shares:
    the diagonal is how often FER2013's annotator agreed with ten others."""
    return plot_confusion(
        agreement["counts"],
        agreement["classes"],
        f"FER2013 label vs FER+ majority ({int(np.sum(agreement['counts']))} matched faces)",
        path,
        xlabel="FER+ majority (ten annotators)",
        ylabel="FER2013 label (one annotator)",
        columns=agreement["columns"],
    ).name


def copy_statistics(this: dict, other: dict, names: tuple[str, str], path: Path) -> str:
    """The same faces in two copies: pixel-intensity histograms (left) and per-image contrast (right)."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for stats, name in zip((this, other), names):
        label = f"{name}: mean {stats['mean']:.0f}, std {stats['std']:.0f}"
        for axis, key, top in ((axes[0], "histogram", 256), (axes[1], "image_std_histogram", 128)):
            edges = np.linspace(0, top, len(stats[key]) + 1)
            axis.stairs(
                stats[key], edges, label=label, fill=key == "histogram", alpha=0.45 if key == "histogram" else 1
            )
    axes[0].set(xlabel="pixel intensity", ylabel="density", title="intensities")
    axes[1].set(xlabel="image standard deviation (contrast)", ylabel="density", title="per-image contrast")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    figure.suptitle(f"The same {this['images']} faces in both copies", fontsize=10)
    return save(figure, path)


def montage(items: list[tuple[np.ndarray, str]], title: str, path: Path, columns: int = 8) -> str:
    """Small captioned grid of examples of one problem (for pairs, the caller interleaves the two copies)."""
    return plot_image_grid([image for image, _ in items], [caption for _, caption in items], title, path, columns).name
