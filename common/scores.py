"""Classification scores in plain numpy: one implementation for the device's benchmark (no scikit-learn
on a Pi) and the trainer's evaluation, so both report the same numbers the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_scores(truth: np.ndarray, predicted: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, per-class precision / recall / F1 / support, macro and support-weighted F1, and the
    confusion matrix (rows true, columns predicted). A prediction of -1 (a label the data lacks) is wrong."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    count = len(classes)
    confusion = np.zeros((count, count), dtype=np.int64)
    known = predicted >= 0
    np.add.at(confusion, (truth[known], predicted[known]), 1)
    hits, support, claimed = np.diag(confusion), np.bincount(truth, minlength=count), confusion.sum(axis=0)
    precision = np.divide(hits, claimed, out=np.zeros(count), where=claimed > 0)
    recall = np.divide(hits, support, out=np.zeros(count), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(count), where=total > 0)
    return {
        "n": int(truth.size),
        "accuracy": float(np.mean(truth == predicted)) if truth.size else 0.0,
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / max(support.sum(), 1)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "confusion": confusion.tolist(),
    }
