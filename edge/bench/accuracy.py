"""Accuracy of each compared model on a folder dataset (``DIR/<class>/*.jpg``, or ``DIR/<split>/<class>/``).

Every image is a face crop and goes through the daemon's classifier exactly like a camera crop does. A
model's labels are matched to the data's class names case-insensitively; a class the model lacks can
never be predicted, and a prediction outside the data's classes counts as wrong. Metrics are numpy only
(the edge install has no scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError
from common.media import IMAGE_SUFFIXES
from common.scores import classification_scores
from edge.classifier import EmotionClassifier
from edge.sources import folder_entries


def dataset_folder(data: Path, split: str | None) -> Path:
    """``DIR`` or ``DIR/split``, checked to be a folder of class folders with images."""
    if not data.is_dir():
        raise UserError(f"--data {data}: not a folder")
    root = data / split if split else data
    if not root.is_dir():
        raise UserError(f"--data {data}: no split folder {split!r} in it")
    if not class_folders(root):
        hint = "" if split else " (a dataset root? pass --split test)"
        raise UserError(f"--data {root}: no class subfolders with images{hint}")
    return root


def class_folders(root: Path) -> list[Path]:
    return [p for p in folder_entries(root) if p.is_dir() and images_in(p)]


def images_in(folder: Path) -> list[Path]:
    return [p for p in folder_entries(folder) if p.suffix.lower() in IMAGE_SUFFIXES]


def load_dataset(root: Path) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """Class names, gray images and their true class indices; an unreadable image is a one-line error."""
    classes, images, truth = [], [], []
    for index, folder in enumerate(class_folders(root)):
        classes.append(folder.name)
        for path in images_in(folder):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise UserError(f"--data {path}: not a readable image")
            images.append(image)
            truth.append(index)
    return classes, images, np.asarray(truth)


def load_dataset_as(root: Path, labels: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """``load_dataset`` with each true class as an index into a model's ``labels`` (its output order); a
    class folder the model has no label for is a one-line error."""
    classes, images, truth = load_dataset(root)
    missing = sorted(set(classes) - set(labels))
    if missing:
        raise UserError(f"--data {root}: classes {', '.join(missing)} are not among the model's labels")
    return images, np.array([labels.index(classes[index]) for index in truth])


def predict(classifier: EmotionClassifier, images: list[np.ndarray], classes: list[str]) -> np.ndarray:
    """Each image's predicted class as an index into ``classes``; -1 for a label the data does not have."""
    wanted = {name.lower(): index for index, name in enumerate(classes)}
    to_data = np.array([wanted.get(label.lower(), -1) for label in classifier.labels])
    return np.array([to_data[int(np.argmax(classifier.classify([image])[0]))] for image in images])


def evaluate(classifier: EmotionClassifier, images: list[np.ndarray], truth: np.ndarray, classes: list[str]) -> dict:
    result = classification_scores(truth, predict(classifier, images, classes), classes)
    known = {label.lower() for label in classifier.labels}
    result["missing_classes"] = [name for name in classes if name.lower() not in known]
    return result
