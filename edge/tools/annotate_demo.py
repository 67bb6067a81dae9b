"""A short recording made from the bundled sample face, and the README's pictures of ``edge annotate``:

    python -m edge.tools.annotate_demo [--docs docs]

The clip (640x480, 30 fps, 12 s, written to a temporary folder and deleted) has two faces: the sample face
gliding left to right while it shrinks to half its size and grows back, and its mirror image joining at
3 s. ``edge annotate`` runs on it with the shipped model and default settings; the frame
halfway through becomes ``annotate_frame.png`` and the timeline ``annotate_timeline.png``.
The tests make their clips with ``demo_clip`` too.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError
from edge.bench.stream import FRAME_H, FRAME_W, sample_face

# Side of the first face's patch; its detector box is about 60% of it. At 640x480 the full-range detector
# loses this face below a patch of about 90 px, so it shrinks no further (``--min-face-px 75`` makes it
# "too small" in the middle third of the clip, which the tests use).
LARGEST, SMALLEST = 200, 96
SECOND_FACE_AT_S = 3.0
SECOND_FACE_SIDE = 130


def backdrop() -> np.ndarray:
    """A calm vertical gradient, like a wall: nothing the detector could take for a face."""
    column = np.linspace(200, 120, FRAME_H, dtype=np.float32)[:, None, None]
    return np.repeat(np.repeat(column, FRAME_W, axis=1), 3, axis=2).astype(np.uint8)


def first_face_side(progress: float) -> int:
    """Largest at the start and end, smallest halfway through."""
    return round(SMALLEST + (LARGEST - SMALLEST) * abs(1 - 2 * progress))


def demo_frame(face: np.ndarray, wall: np.ndarray, index: int, frames: int, fps: float) -> np.ndarray:
    frame = wall.copy()
    progress = index / max(frames - 1, 1)
    side = first_face_side(progress)
    x = round(20 + progress * (FRAME_W * 0.55 - side / 2))
    y = round(FRAME_H / 2 - side / 2)
    frame[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    if index / fps >= SECOND_FACE_AT_S:
        mirrored = cv2.resize(face[:, ::-1], (SECOND_FACE_SIDE, SECOND_FACE_SIDE), interpolation=cv2.INTER_AREA)
        frame[40 : 40 + SECOND_FACE_SIDE, FRAME_W - 40 - SECOND_FACE_SIDE : FRAME_W - 40] = mirrored
    return frame


def demo_clip(path: Path, seconds: float = 12.0, fps: float = 30.0) -> Path:
    """The demo recording as an MPEG-4 file at ``path``."""
    face, wall = sample_face(), backdrop()
    frames = round(seconds * fps)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise UserError(f"{path}: this OpenCV cannot write an MPEG-4 clip")
    for index in range(frames):
        writer.write(demo_frame(face, wall, index, frames, fps))
    writer.release()
    return path


def main() -> None:
    from edge.annotate import TIMELINE, VIDEO, annotate
    from edge.config import EdgeConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where the two PNGs go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = demo_clip(Path(tmp) / "demo.mp4")
        config = EdgeConfig(annotate={"out_dir": Path(tmp) / "out"})
        annotate(config, str(clip))
        capture = cv2.VideoCapture(str(Path(tmp) / "out" / VIDEO))
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) // 2)
        ok, frame = capture.read()
        capture.release()
        if not ok:
            raise SystemExit("could not read the annotated video back")
        cv2.imwrite(str(args.docs / "annotate_frame.png"), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        shutil.copy(Path(tmp) / "out" / TIMELINE, args.docs / "annotate_timeline.png")
        for name in ("annotate_frame.png", "annotate_timeline.png"):
            print(f"{args.docs / name}: {(args.docs / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
