"""PNG figures of training and evaluation: curves, confusion matrices, reliability, image grids."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_history(path: Path) -> dict[str, list[float]]:
    """A phase's ``history.csv``, one row per epoch. A run killed after logging an epoch but before backing it
    up trains that epoch again on ``--resume`` and logs it twice: the later row is the training that went on."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        rows = list({row["epoch"]: row for row in csv.DictReader(handle)}.values())
    return {
        key: [float(row[key]) for row in rows if row.get(key) not in (None, "")] for key in (rows[0] if rows else {})
    }


def plot_training_curves(run_dir: Path) -> Path:
    """Loss, training accuracy and validation accuracy/macro-F1 per epoch, float then QAT, one PNG."""
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(11, 4))
    offset = 0
    for phase, style in (("float", "-"), ("qat", "--")):
        history = read_history(run_dir / phase / "history.csv")
        if not history.get("epoch"):
            continue
        epochs = np.arange(1, len(history["epoch"]) + 1) + offset
        loss_axis.plot(epochs, history["loss"], style, label=f"{phase} train loss")
        for key in ("accuracy", "val_accuracy", "val_macro_f1"):
            if key in history:
                score_axis.plot(epochs, history[key], style, label=f"{phase} {key}")
        offset = epochs[-1]
    loss_axis.set(xlabel="epoch", ylabel="loss", title="training loss")
    score_axis.set(xlabel="epoch", ylabel="score", title="accuracy and validation macro-F1")
    for axis in (loss_axis, score_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path = run_dir / "curves.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_confusion(
    confusion: Sequence[Sequence[int]],
    classes: Sequence[str],
    title: str,
    path: Path,
    xlabel: str = "predicted",
    ylabel: str = "true",
    columns: Sequence[str] | None = None,
) -> Path:
    """Row-normalised confusion matrix with counts, so recall per class reads off the diagonal. Any two
    labellings of the same faces (``trainer eda`` compares FER2013's labels with FER+'s, whose ``columns``
    add one for faces outside the classes)."""
    columns = list(columns or classes)
    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(4.8 + 0.9 * (len(columns) - len(classes)), 4.2))
    axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(columns)):
            axis.text(
                j,
                i,
                f"{rates[i, j]:.2f}\n({int(counts[i, j])})",
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
                fontsize=8,
            )
    axis.set(
        xticks=range(len(columns)),
        yticks=range(len(classes)),
        xticklabels=columns,
        yticklabels=classes,
        xlabel=xlabel,
        ylabel=ylabel,
        title=title,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_reliability(bins_by_model: dict[str, list[tuple[float, float, int]]], path: Path) -> Path:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    figure, axis = plt.subplots(figsize=(4.8, 4.2))
    axis.plot([0, 1], [0, 1], ":", color="gray")
    for name, bins in bins_by_model.items():
        axis.plot([b[0] for b in bins], [b[1] for b in bins], "o-", label=name, markersize=3)
    axis.set(xlabel="confidence", ylabel="accuracy", title="reliability", xlim=(0, 1), ylim=(0, 1))
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_image_grid(
    images: Sequence[np.ndarray], captions: Sequence[str], title: str, path: Path, columns: int = 8
) -> Path:
    """A captioned grid of gray images (or RGB overlays)."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.35, rows * 2.0), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, captions):
        axis.imshow(
            image.squeeze(), cmap=None if image.ndim == 3 and image.shape[-1] == 3 else "gray", vmin=0, vmax=255
        )
        axis.set_title(caption, fontsize=5.5)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
