"""The benchmark's input: a 640x480 MPEG-4 clip with a chosen number of faces per frame.

The faces are the bundled public-domain NASA portrait (``edge/samples/astronaut_2.jpg``): its face, found
by the daemon's own detector, is cut out once and pasted at different places and scales on a smooth
texture, drifting a little every frame so the tracker has real work. Writing a compressed clip (rather
than handing over arrays) keeps the decode stage honest.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError
from edge.classifier import square_crop
from edge.config import BUNDLED_SAMPLE, CROP_MARGIN
from edge.detector import FaceDetector

FRAME_W, FRAME_H = 640, 480
SAMPLE_FACE = BUNDLED_SAMPLE / "astronaut_2.jpg"
# (centre x, centre y, patch side in px) per face: the first alone, the others in the corners, never overlapping.
LAYOUT = ((320, 240, 150), (110, 110, 130), (530, 110, 140), (110, 365, 120), (530, 360, 160))
MAX_FACES = len(LAYOUT)


def background(rng: np.random.Generator) -> np.ndarray:
    """Smooth random texture: harder than a flat colour, without accidental faces."""
    noise = rng.integers(0, 256, (FRAME_H // 16, FRAME_W // 16, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC), (0, 0), 3)


def sample_face(margin: float = 0.3) -> np.ndarray:
    """The sample's face as a square BGR patch, with some hair and background around it like a real view."""
    image = cv2.imread(str(SAMPLE_FACE))
    if image is None:
        raise UserError(f"{SAMPLE_FACE}: bundled sample image missing or unreadable")
    faces = FaceDetector("full").detect(image)
    if not faces:
        raise UserError(f"{SAMPLE_FACE}: the detector finds no face in the bundled sample")
    return square_crop(image, faces[0].box, margin)


def compose(face: np.ndarray, count: int, index: int, backdrop: np.ndarray) -> np.ndarray:
    """Frame ``index`` with ``count`` copies of ``face`` from ``LAYOUT``, each drifting on its own phase."""
    frame = backdrop.copy()
    for slot, (x, y, size) in enumerate(LAYOUT[:count]):
        patch = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
        x0 = int(np.clip(x - size // 2 + 15 * np.sin(index / 20 + slot), 0, FRAME_W - size))
        y0 = int(np.clip(y - size // 2 + 10 * np.cos(index / 25 + slot), 0, FRAME_H - size))
        frame[y0 : y0 + size, x0 : x0 + size] = patch
    return frame


def write_clip(path: Path, faces: int, frames: int) -> Path:
    """A ``frames``-long 640x480 MPEG-4 clip with ``faces`` faces per frame."""
    if not 1 <= faces <= MAX_FACES:
        raise UserError(f"--faces {faces}: between 1 and {MAX_FACES} faces per frame")
    face = sample_face()
    backdrop = background(np.random.default_rng(0))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise UserError(f"{path}: this OpenCV cannot write an MPEG-4 clip; pass --source")
    for index in range(frames):
        writer.write(compose(face, faces, index, backdrop))
    writer.release()
    return path


def face_crops(sizes: tuple[int, ...] = (64, 100, 160, 240)) -> list[np.ndarray]:
    """Gray face crops of the sizes a camera delivers, for timing classifiers without the detector."""
    gray = cv2.cvtColor(sample_face(margin=CROP_MARGIN), cv2.COLOR_BGR2GRAY)
    return [cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA) for size in sizes]
