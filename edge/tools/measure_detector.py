"""Measure BlazeFace short vs full range: face recall at several face sizes in 640x480 frames, and ms/frame.

Real faces come from a folder dataset of face crops (e.g. FER2013's 48x48 test split): each crop is
upscaled to a face height, pasted at a random place on a textured 640x480 background, and counts as found
when a detection's centre falls inside the pasted crop and covers at least a quarter of it (IoU >= 0.25;
a FER crop is a tight face, the detector's box somewhat smaller). Timing is ``FaceDetector.detect`` on
those frames with one thread: letterbox, invoke, decode, NMS.

    python -m edge.tools.measure_detector /path/to/fer2013-4class/test [--per-class 100] [--markdown out.md]

The images are only read, never copied; nothing of them ends up in the output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge.bench.stream import FRAME_H, FRAME_W, background
from edge.detector import SPECS, FaceDetector
from edge.sources import IMAGE_SUFFIXES
from edge.tracker import iou_xywh

FACE_HEIGHTS = (64, 96, 128, 160, 240, 320, 480)


def pick_faces(root: Path, per_class: int, seed: int = 0) -> list[Path]:
    """``per_class`` files from each class folder, a fixed random pick so runs are comparable."""
    rng = np.random.default_rng(seed)
    picked = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        picked += [files[i] for i in sorted(rng.choice(len(files), min(per_class, len(files)), replace=False))]
    return picked


def read_faces(paths: list[Path]) -> list[np.ndarray]:
    """The picked crops in gray; an unreadable file is skipped and counted on stderr, not a traceback."""
    faces = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in paths]
    unreadable = [str(path) for path, face in zip(paths, faces) if face is None]
    if unreadable:
        print(f"measure_detector: skipped {len(unreadable)} unreadable image(s), e.g. {unreadable[0]}", file=sys.stderr)
    return [face for face in faces if face is not None]


def compose(face_gray: np.ndarray, height: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """A frame with the face at ``height`` px tall at a random position, and the face's box."""
    face = cv2.resize(face_gray, (height, height), interpolation=cv2.INTER_CUBIC)
    frame = background(rng)
    x = int(rng.integers(0, FRAME_W - height + 1))
    y = int(rng.integers(0, FRAME_H - height + 1))
    frame[y : y + height, x : x + height] = face[..., None]
    return frame, (x, y, height, height)


def found(detections, truth: tuple) -> bool:
    x, y, w, h = truth
    for detection in detections:
        dx, dy, dw, dh = detection.box
        centre_x, centre_y = dx + dw / 2, dy + dh / 2
        if x <= centre_x <= x + w and y <= centre_y <= y + h and iou_xywh(detection.box, truth) >= 0.25:
            return True
    return False


def measure(model: str, faces: list[np.ndarray]) -> dict:
    detector = FaceDetector(model, threads=1, min_face_px=1)
    rng = np.random.default_rng(1)
    recall, timings = {}, []
    for height in FACE_HEIGHTS:
        hits = 0
        for face in faces:
            frame, truth = compose(face, height, rng)
            started = time.perf_counter()
            detections = detector.detect(frame)
            timings.append(time.perf_counter() - started)
            hits += found(detections, truth)
        recall[height] = hits / len(faces)
    return {"recall": recall, "ms_median": 1000 * statistics.median(timings),
            "ms_p90": 1000 * statistics.quantiles(timings, n=10)[-1]}


def markdown(results: dict, count: int, source: Path) -> str:
    heights = " | ".join(f"{h} px" for h in FACE_HEIGHTS)
    lines = [
        f"| model | input | {heights} | ms/frame (median) | ms/frame (p90) |",
        "|---|---|" + "---|" * len(FACE_HEIGHTS) + "---|---|",
    ]
    for model, result in results.items():
        size = SPECS[model].input_size
        recall = " | ".join(f"{100 * result['recall'][h]:.1f} %" for h in FACE_HEIGHTS)
        lines.append(f"| {model} | {size}x{size} | {recall} | {result['ms_median']:.2f} | {result['ms_p90']:.2f} |")
    lines.append("")
    lines.append(f"Recall over {count} real faces ({source.name} split, equal per class) per face height, "
                 f"in {FRAME_W}x{FRAME_H} frames; one thread.")
    return "\n".join(lines)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text}: not a whole number >= 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="measure_detector", description=__doc__.split("\n")[0])
    parser.add_argument("faces", type=Path, help="folder with one subfolder of face crops per class")
    parser.add_argument("--per-class", type=positive, default=100)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    if not args.faces.is_dir():
        print(f"measure_detector: error: {args.faces}: not a folder", file=sys.stderr)
        return 2
    faces = read_faces(pick_faces(args.faces, args.per_class))
    if not faces:
        print(f"measure_detector: error: {args.faces}: no face images in its class subfolders (give a split "
              "folder, e.g. fer2013-4class/test)", file=sys.stderr)
        return 2
    table = markdown({model: measure(model, faces) for model in SPECS}, len(faces), args.faces)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
