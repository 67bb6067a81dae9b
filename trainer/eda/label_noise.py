"""Likely mislabelled images, found by confident learning on out-of-fold predictions of a quick model.

The model is deliberately cheap (HOG + normalised 24x24 pixels -> PCA -> logistic regression): it only
has to be better than chance for cleanlab to spot images whose given label it confidently disagrees
with. Its out-of-fold accuracy is reported next to the findings so readers know how far to trust them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

PCA_COMPONENTS = 150
THUMB = 24


@dataclass
class LabelIssues:
    indices: np.ndarray  # scan indices of the images the model and cleanlab flag, most suspect first
    given: np.ndarray  # given label index per flagged image
    predicted: np.ndarray  # the model's label index per flagged image
    accuracy: float  # out-of-fold accuracy of the model on all scored images
    scored: int  # how many images were scored


def features(pixels: np.ndarray, hog: np.ndarray) -> np.ndarray:
    """HOG plus per-image-normalised thumbnails, reduced by PCA; shape (N, PCA_COMPONENTS)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    thumbs = np.stack([cv2.resize(p, (THUMB, THUMB), interpolation=cv2.INTER_AREA) for p in pixels])
    thumbs = thumbs.reshape(len(pixels), -1).astype(np.float32)
    thumbs = (thumbs - thumbs.mean(axis=1, keepdims=True)) / (thumbs.std(axis=1, keepdims=True) + 1e-3)
    joined = StandardScaler().fit_transform(np.hstack([hog, thumbs]))
    components = min(PCA_COMPONENTS, joined.shape[0] - 1, joined.shape[1])
    reduced = PCA(components, svd_solver="randomized", random_state=0).fit_transform(joined)
    return StandardScaler().fit_transform(reduced)


def out_of_fold_probabilities(x: np.ndarray, y: np.ndarray, classes: int, folds: int) -> np.ndarray:
    """Each image's class probabilities from a model that never saw it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(folds, int(np.bincount(y, minlength=classes).min())))
    probabilities = np.zeros((len(y), classes))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train, held in tqdm(list(splitter.split(x, y)), desc="label-noise folds", unit="fold", disable=None):
        model = LogisticRegression(C=0.05, max_iter=200, tol=1e-3).fit(x[train], y[train])
        probabilities[np.ix_(held, model.classes_)] = model.predict_proba(x[held])
    return probabilities


def find_label_issues(
    pixels: np.ndarray, hog: np.ndarray, labels: np.ndarray, indices: np.ndarray, classes: int, folds: int
) -> LabelIssues | None:
    """Confident learning over the images ``indices`` (train + validation); None when too few per class."""
    from cleanlab.filter import find_label_issues as cleanlab_issues

    y = labels[indices]
    if len(indices) < 2 * classes or np.bincount(y, minlength=classes).min() < 2:
        return None
    probabilities = out_of_fold_probabilities(features(pixels[indices], hog[indices]), y, classes, folds)
    # "both": flagged by the per-class noise-rate pruning and the confident joint alike (fewer false alarms).
    ranked = cleanlab_issues(y, probabilities, filter_by="both", return_indices_ranked_by="self_confidence")
    return LabelIssues(
        indices=indices[ranked],
        given=y[ranked],
        predicted=probabilities[ranked].argmax(axis=1),
        accuracy=float((probabilities.argmax(axis=1) == y).mean()),
        scored=len(indices),
    )
