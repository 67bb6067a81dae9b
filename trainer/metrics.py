"""Classification metrics shared by training (model selection), export (the int8 check) and evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.scores import classification_scores


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
