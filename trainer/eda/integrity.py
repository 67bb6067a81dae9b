"""Walk the folder dataset and decode every image, reporting (never raising on) what is malformed.

Everything later in the audit works on the decoded pixel stack this module returns, so every file is
read exactly once. A file that cannot be decoded gets a blank placeholder and ``readable = False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from common.media import IMAGE_SUFFIXES
from trainer.config import SPLITS
from trainer.dataset import Sample

from .annotators import ANNOTATION_FILES

# Findings about the folder layout; they concern folders or non-image files, not manifest rows.
LAYOUT_REASONS = ("missing_split", "missing_class", "empty_class", "unknown_folder", "not_image", "stray_image")


@dataclass(frozen=True)
class Issue:
    """One finding: a path relative to the data folder, a reason code and a human-readable detail."""

    path: str
    reason: str
    detail: str = ""


@dataclass
class Scan:
    """The decoded dataset: one row of ``pixels`` per sample (in ``samples`` order)."""

    root: Path
    classes: list[str]
    samples: list[Sample]
    pixels: np.ndarray  # (N, size, size) uint8, grayscale
    readable: np.ndarray  # (N,) bool
    issues: list[Issue] = field(default_factory=list)
    non_images: list[Sample] = field(default_factory=list)  # non-image files inside class folders

    def rel(self, index: int) -> str:
        return self.samples[index].relative_to(self.root)


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def walk_layout(root: Path, classes: Sequence[str]) -> tuple[list[Sample], list[Sample], list[Issue]]:
    """Image files and non-image files of every SPLIT/CLASS folder, plus the layout findings."""
    issues: list[Issue] = []
    images: list[Sample] = []
    others: list[Sample] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and entry.name not in SPLITS:
            issues.append(Issue(relative(root, entry), "unknown_folder", f"not a split ({', '.join(SPLITS)})"))
        elif entry.is_file() and entry.name not in ANNOTATION_FILES:
            issues.append(
                Issue(relative(root, entry), "stray_image" if is_image(entry) else "not_image", "outside SPLIT/CLASS/")
            )
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            issues.append(Issue(split, "missing_split", "split folder not found"))
            continue
        for entry in sorted(split_dir.iterdir()):
            if entry.is_dir() and entry.name not in classes:
                issues.append(Issue(relative(root, entry), "unknown_folder", f"not a class ({', '.join(classes)})"))
            elif entry.is_file():
                issues.append(
                    Issue(
                        relative(root, entry),
                        "stray_image" if is_image(entry) else "not_image",
                        "outside a class folder",
                    )
                )
        for label in classes:
            found = walk_class(root, split, label, images, others, issues)
            if found == 0 and (split_dir / label).is_dir():
                issues.append(Issue(f"{split}/{label}", "empty_class", "class folder holds no images"))
    return images, others, issues


def walk_class(root: Path, split: str, label: str, images: list, others: list, issues: list) -> int:
    """Append one class folder's files; return how many images it holds (0 when it is missing)."""
    folder = root / split / label
    if not folder.is_dir():
        issues.append(Issue(f"{split}/{label}", "missing_class", "class folder not found"))
        return 0
    count = 0
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            issues.append(Issue(relative(root, path), "unknown_folder", "sub-folder inside a class folder"))
        elif is_image(path):
            images.append(Sample(split, label, path.absolute()))
            count += 1
        else:
            others.append(Sample(split, label, path.absolute()))
            issues.append(Issue(relative(root, path), "not_image", f"suffix '{path.suffix}' is not an image type"))
    return count


def decode(path: Path, size: int) -> tuple[np.ndarray | None, str, str]:
    """Pixels as ``size`` x ``size`` grayscale, plus a reason ('' | corrupt | wrong_format) and its detail.

    ``Image.load()`` forces a full decode, so a truncated JPEG fails here rather than in training.
    A wrong-format image is still converted, so it can take part in the duplicate search.
    """
    try:
        with Image.open(path) as image:
            image.load()
            mode, dims = image.mode, image.size
            gray = image.convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return None, "corrupt", f"cannot decode ({exc})"
    if mode == "L" and dims == (size, size):
        return np.asarray(gray, dtype=np.uint8), "", ""
    detail = f"{dims[0]}x{dims[1]} {mode} (expected {size}x{size} L)"
    return np.asarray(gray.resize((size, size), Image.BILINEAR), dtype=np.uint8), "wrong_format", detail


def scan_dataset(root: Path, classes: Sequence[str], size: int) -> Scan:
    """Walk and decode the whole dataset once."""
    samples, others, issues = walk_layout(root, classes)
    pixels = np.zeros((len(samples), size, size), np.uint8)
    readable = np.zeros(len(samples), bool)
    for index, sample in enumerate(tqdm(samples, desc="decode", unit="img", mininterval=1.0, disable=None)):
        array, reason, detail = decode(sample.path, size)
        if array is not None:
            pixels[index], readable[index] = array, True
        if reason:
            issues.append(Issue(sample.relative_to(root), reason, detail))
    return Scan(root, list(classes), samples, pixels, readable, issues, others)
