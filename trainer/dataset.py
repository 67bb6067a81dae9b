"""The folder dataset (``SPLIT/CLASS/*.jpg``) and the cleaned manifest that ``trainer eda`` writes.

Training never walks folders on its own terms: it asks this module for the files of a split, taken
from the manifest when there is one (so the audit's exclusions apply), else from the folders.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError
from common.media import IMAGE_SUFFIXES

MANIFEST_FIELDS = ("split", "label", "path", "keep", "reason")


@dataclass(frozen=True)
class Sample:
    split: str
    label: str
    path: Path  # absolute

    def relative_to(self, root: Path) -> str:
        return self.path.relative_to(root).as_posix()


@dataclass(frozen=True)
class ManifestRow:
    split: str
    label: str
    path: str  # relative to the data folder, POSIX separators
    keep: bool
    reason: str = ""


def class_dirs(data_dir: Path, split: str, classes: Sequence[str]) -> list[Path]:
    """The class folders of one split, in the model's class order; a missing one is a user error."""
    split_dir = data_dir / split
    if not split_dir.is_dir():
        raise UserError(f"{split_dir}: split folder not found (expected {data_dir}/{split}/<class>/)")
    missing = [name for name in classes if not (split_dir / name).is_dir()]
    if missing:
        raise UserError(f"{split_dir / missing[0]}: class folder not found")
    return [split_dir / name for name in classes]


def scan_split(data_dir: Path, split: str, classes: Sequence[str]) -> list[Sample]:
    """Every image file of a split, sorted, labelled by its folder."""
    samples = []
    for folder in class_dirs(data_dir, split, classes):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(
                    Sample(split, folder.name, path.absolute())
                )  # not resolve(): a symlinked file stays under data_dir
    return samples


def write_manifest(path: Path, rows: Iterable[ManifestRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_FIELDS)
        for row in rows:
            writer.writerow((row.split, row.label, row.path, int(row.keep), row.reason))


def read_manifest(path: Path) -> list[ManifestRow]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != MANIFEST_FIELDS:
                raise UserError(f"{path}: not a manifest (expected columns {', '.join(MANIFEST_FIELDS)})")
            return [ManifestRow(r["split"], r["label"], r["path"], r["keep"] == "1", r["reason"]) for r in reader]
    except FileNotFoundError:
        raise UserError(f"{path}: manifest not found (run 'trainer eda' first, or unset trainer.manifest)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # a folder, a binary file, a broken CSV
        raise UserError(f"{path}: cannot read the manifest ({type(exc).__name__}: {exc})") from None


def split_files(
    data_dir: Path, split: str, classes: Sequence[str], manifest: Path | None = None
) -> tuple[list[Path], list[int]]:
    """Paths and integer labels (index into ``classes``) of one split: the manifest's kept files, or all files."""
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: data folder not found (expected {data_dir}/{split}/<class>/*.jpg)")
    if manifest is None:
        samples = scan_split(data_dir, split, classes)
        if not samples:
            raise UserError(f"{data_dir / split}: no images in the class folders ({', '.join(classes)})")
        paths, labels = [s.path for s in samples], [classes.index(s.label) for s in samples]
        where = str(data_dir / split)
    else:
        rows = [r for r in read_manifest(manifest) if r.split == split and r.keep and r.label in classes]
        if not rows:
            raise UserError(f"{manifest}: no kept files for split '{split}'")
        paths, labels = [data_dir / r.path for r in rows], [classes.index(r.label) for r in rows]
        where = f"{manifest}, split '{split}'"
    missing = [name for index, name in enumerate(classes) if index not in set(labels)]
    if missing:  # a class with no examples would be trained on, or scored, as if it did not exist
        raise UserError(f"{where}: no images of class {', '.join(missing)} (every one of trainer.classes needs some)")
    return paths, labels
