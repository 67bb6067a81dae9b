"""Tiny synthetic face datasets (``SPLIT/CLASS/*.jpg``), so tests never need the real FER2013 folder.

Each image is a drawn face: an ellipse head, two eyes and a mouth whose shape is the class
(smile arc = happy, flat line = neutral, frown = sad, open circle = surprise). Position, scale,
brightness and noise are jittered so a model has to learn the mouth, not memorise pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("happy", "neutral", "sad", "surprise")
SPLITS = ("train", "validation", "test")


def draw_mouth(image: np.ndarray, label: str, center: tuple[int, int], width: int, ink: int) -> None:
    """The class-defining feature; an unknown label gets a neutral line so any class list still works."""
    x, y = center
    half = max(2, width // 2)
    thickness = max(1, width // 6)
    if label == "happy":
        cv2.ellipse(image, (x, y - half // 2), (half, half), 0, 20, 160, ink, thickness)
    elif label == "sad":
        cv2.ellipse(image, (x, y + half // 2), (half, half), 0, 200, 340, ink, thickness)
    elif label == "surprise":
        cv2.circle(image, (x, y), max(2, half // 2), ink, thickness)
    else:
        cv2.line(image, (x - half, y), (x + half, y), ink, thickness)


def draw_face(label: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One jittered grayscale face of ``size`` x ``size`` pixels."""
    scale = size / 48.0
    background = int(rng.integers(20, 90))
    skin = int(rng.integers(130, 220))
    ink = int(rng.integers(0, 50))
    # A random shading gradient and a tilted head keep unrelated faces from looking like near duplicates.
    ramp = np.linspace(-1.0, 1.0, size)
    angle = rng.uniform(0, 2 * np.pi)
    shade = rng.uniform(15, 40) * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    image = np.clip(background + shade, 0, 255).astype(np.uint8)
    cx = int(size / 2 + rng.normal(0, 1.5) * scale)
    cy = int(size / 2 + rng.normal(0, 1.5) * scale)
    s = rng.uniform(0.85, 1.1) * scale
    cv2.ellipse(image, (cx, cy), (int(16 * s), int(21 * s)), rng.uniform(-12, 12), 0, 360, skin, -1)
    eye_y = cy - int(6 * s)
    for dx in (-7, 7):
        cv2.circle(image, (cx + int(dx * s), eye_y), max(1, int(2 * s)), ink, -1)
    draw_mouth(image, label, (cx, cy + int(10 * s)), int(14 * s), ink)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def make_dataset(
    root: Path,
    per_class: int = 24,
    size: int = 48,
    classes: Sequence[str] = CLASSES,
    splits: Sequence[str] = SPLITS,
    seed: int = 0,
) -> Path:
    """Write ``per_class`` JPEGs per class per split under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split in splits:
        for label in classes:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                cv2.imwrite(
                    str(folder / f"{label}_{index:04d}.jpg"),
                    draw_face(label, size, rng),
                    [cv2.IMWRITE_JPEG_QUALITY, 95],
                )
    return root


VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")


def write_votes(root: Path, seed: int = 0) -> Path:
    """A FER+-style ``votes.csv`` for every image under ``root``: seven of ten votes for the folder's class,
    three for another, as the default config's ``train.targets: votes`` expects beside the splits."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    column = {"happy": "happiness", "sad": "sadness"}
    lines = ["split,path,majority," + ",".join(VOTE_COLUMNS)]
    for path in sorted(root.glob("*/*/*.jpg")):
        label = path.parent.name
        votes = dict.fromkeys(VOTE_COLUMNS, 0)
        votes[column.get(label, label if label in VOTE_COLUMNS else "neutral")] += 7
        votes[VOTE_COLUMNS[int(rng.integers(0, 4))]] += 3
        lines.append(
            f"{path.parent.parent.name},{path.relative_to(root).as_posix()},{label},"
            + ",".join(str(votes[c]) for c in VOTE_COLUMNS)
        )
    (root / "votes.csv").write_text("\n".join(lines) + "\n")
    return root
