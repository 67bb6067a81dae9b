"""Classification metrics shared by training (model selection), export (the int8 check) and evaluation, and
the columns that put a model's outputs in the dataset's class order before any of them is computed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.errors import UserError
from common.scores import classification_scores


def output_columns(labels: Sequence[str], classes: Sequence[str], model: str, cure: str = "") -> list[int]:
    """The model's output index of each of ``classes`` (names matched case-insensitively), so that
    ``probs[:, columns]`` is in the dataset's class order: a model lists its classes in its own order (its
    contract's ``labels``, or a peer's ``labels=``). A model lacking one cannot be scored on this data: a
    one-line error naming ``model``, ending with ``cure`` (how to name its outputs) when given."""
    outputs = {label.lower(): index for index, label in enumerate(labels)}
    missing = [name for name in classes if name.lower() not in outputs]
    if missing:
        cure = f"; {cure}" if cure else ""
        raise UserError(f"{model}: no output for class {', '.join(missing)} (its labels: {', '.join(labels)}{cure})")
    return [outputs[name.lower()] for name in classes]


def summarize(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted F1, confusion matrix, ECE."""
    return {
        **classification_scores(labels, probs.argmax(axis=1), classes),
        "ece": expected_calibration_error(labels, probs),
    }


def calibration_bins(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per confidence bin, for ECE and the reliability plot."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    result = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            result.append((float(confidence[inside].mean()), float(correct[inside].mean()), int(inside.sum())))
    return result


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    total = len(labels)
    return float(sum(count / total * abs(conf - acc) for conf, acc, count in calibration_bins(labels, probs, bins)))
