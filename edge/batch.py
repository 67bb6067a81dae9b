"""Photos judged one by one: ``edge run --source PHOTOS`` on an image folder or a single image.

A folder of photos is not a video: the files are unrelated, so there is no tracking and no smoothing
across them, and every face of every photo is reported once, not only faces that "appear" or "change".
Each image yields one record per face; an image without a face yields one record saying so (``faces``
0) and a file that cannot be read one record with its ``error``, and the run goes on. Records go to
stdout or ``edge.batch.output`` as JSON lines or CSV (edge.records); a progress bar shows on a terminal.

Record fields (CSV columns: the same, ``scores`` and ``bbox`` flattened to ``scores.happy``, ``bbox.x``)::

    {"file": "a.jpg", "faces": 2, "face": 0, "emotion": "happy", "confidence": 0.91,
     "scores": {"happy": 0.91, ...}, "bbox": {"x": 12, "y": 30, "w": 96, "h": 96}, "error": null}

``face`` numbers the faces of one image, best detection first; ``bbox`` is in the image's pixels.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from common.errors import UserError
from edge.config import CameraConfig, EdgeConfig
from edge.pipeline import build_classifier, build_detector, face_crops
from edge.progress import Progress
from edge.records import RecordWriter
from edge.sources import ImageFolderSource, UnreadableImage, open_source, read_image

log = logging.getLogger(__name__)

BBOX = ("x", "y", "w", "h")


def record_columns(labels: list[str]) -> list[str]:
    return (
        ["file", "faces", "face", "emotion", "confidence"]
        + [f"scores.{label}" for label in labels]
        + [f"bbox.{key}" for key in BBOX]
        + ["error"]
    )


def empty_record(name: str, faces: int | None, error: str | None, labels: list[str]) -> dict:
    """Every record has every field, so the JSON lines load into one table as the CSV does."""
    return {
        "file": name,
        "faces": faces,
        "face": None,
        "emotion": None,
        "confidence": None,
        "scores": dict.fromkeys(labels),
        "bbox": dict.fromkeys(BBOX),
        "error": error,
    }


class PhotoJudge:
    """Detector and classifier for independent images: each call sees one image and nothing before it."""

    def __init__(self, config: EdgeConfig):
        self.detector = build_detector(config)
        self.classifier = build_classifier(config)
        self.margin = 0.0 if config.detector.model == "skip" else config.crop_margin
        self.labels = self.classifier.labels

    def records(self, path: Path) -> list[dict]:
        """The image's records: one per face, one for no face, or one for a file that cannot be read."""
        try:
            image = read_image(path)
        except UnreadableImage as exc:
            log.warning("%s", exc)
            return [empty_record(path.name, None, str(exc).removeprefix(f"{path}: "), self.labels)]
        faces = self.faces(image)
        if not faces:
            return [empty_record(path.name, 0, None, self.labels)]
        return [
            self.face_record(path.name, len(faces), index, box, scores) for index, (box, scores) in enumerate(faces)
        ]

    def faces(self, image: np.ndarray) -> list[tuple[tuple, np.ndarray]]:
        """(box, class probabilities) of each face in a BGR image, best detection first."""
        faces = face_crops(image, self.detector.detect(image), self.margin)
        if not faces:
            return []
        probabilities = self.classifier.classify([crop for _, crop in faces])
        return [(box, scores) for (box, _), scores in zip(faces, probabilities)]

    def face_record(self, name: str, count: int, index: int, box: tuple, scores) -> dict:
        best = int(scores.argmax())
        return {
            "file": name,
            "faces": count,
            "face": index,
            "emotion": self.labels[best],
            "confidence": round(float(scores[best]), 4),
            "scores": {label: round(float(score), 4) for label, score in zip(self.labels, scores)},
            "bbox": dict(zip(BBOX, (round(v) for v in box))),
            "error": None,
        }


def photo_images(camera: CameraConfig) -> list[Path]:
    source = open_source(camera.source)
    if not isinstance(source, ImageFolderSource):
        raise UserError(f"camera {camera.name}: batch needs an image folder or image file; {source.shown} is not one")
    return source.images


def run_batch(config: EdgeConfig, camera: CameraConfig) -> int:
    """Every image of the camera's folder (or its one image) into records; 0 even when some files were
    unreadable (each has its error record and a warning), 2 when the output cannot be written."""
    images = photo_images(camera)
    judge = PhotoJudge(config)
    output = config.batch.output
    counts = {"faces": 0, "without a face": 0, "unreadable": 0}
    bar_wanted = output is not None or not sys.stdout.isatty()  # records on the terminal: no bar between them
    with (
        RecordWriter.open(output, config.batch.format, record_columns(judge.labels)) as writer,
        Progress(len(images), "photos", enabled=bar_wanted) as progress,
    ):
        for path in images:
            for record in judge.records(path):
                write(writer, record, output)
                counts[tally(record)] += 1
            progress.step()
    log.info(
        "%d image(s): %d face(s), %d without a face, %d unreadable%s",
        len(images),
        counts["faces"],
        counts["without a face"],
        counts["unreadable"],
        f"; records in {output}" if output else "",
    )
    return 0


def write(writer: RecordWriter, record: dict, output: Path | None) -> None:
    """A full disk or a closed pipe (``| head``) ends the run with one line, not a traceback."""
    try:
        writer.write(record)
    except OSError as exc:
        raise UserError(f"{output or 'stdout'}: cannot write the records ({exc.strerror or exc})") from None


def tally(record: dict) -> str:
    if record["error"] is not None:
        return "unreadable"
    return "faces" if record["faces"] else "without a face"
