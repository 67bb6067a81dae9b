"""Classification metrics shared by training (model selection), export (the int8 check) and evaluation."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def summarize(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted F1, confusion matrix, ECE."""
    predicted = probs.argmax(axis=1)
    indices = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=indices, zero_division=0)
    return {
        "n": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / max(support.sum(), 1)),
        "ece": expected_calibration_error(labels, probs),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "confusion": confusion_matrix(labels, predicted, labels=indices).tolist(),
    }


def macro_f1(labels: np.ndarray, probs: np.ndarray, num_classes: int) -> float:
    _, _, f1, _ = precision_recall_fscore_support(labels, probs.argmax(axis=1), labels=list(range(num_classes)), zero_division=0)
    return float(f1.mean())


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
