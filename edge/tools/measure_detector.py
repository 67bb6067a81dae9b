"""Measure the face detectors on the shipped portraits: coverage by face height, false detections, ms/frame.

Faces: two public-domain portraits, NASA's of Eileen Collins (``edge/samples/astronaut_2.jpg``) and the US
Navy's of Grace Hopper (``edge/tools/portraits/grace_hopper.jpg``; see each folder's README), taking turns,
framed two ways, because cameras and photo collections show both and BlazeFace's two models each see only one
well:

* ``whole-head``: the portrait with its hair, shoulders and background, scaled so the face is H px tall;
* ``tight``: the face cut out so that it fills 60, 75 or 90 % of the picture's height (an ID photo, a
  profile picture, a dataset's face crop), that picture scaled so the face is H px tall.

Each is placed in a 640x480 frame on a smooth random texture at a random position (cut by the frame's edge
when it is larger), rotated in-plane by -20, -10, 0, 10 or 20 degrees, under three lighting levels (dark,
as shot, bright and flat), mirrored or not: every combination once per 30 frames, and once per portrait per
60. ``full`` means a face as tall as the frame. A face counts as found when a detection's centre lies in its
box and they overlap with IoU >= 0.3. Face-free frames (textures, stripes, checkerboards, blobs, text like a
poster, crops of the portraits away from their faces, scaled up, and real hands, ``edge/tools/hands``) count
every detection as false. Time is ``FaceDetector.detect`` per frame on one thread, the CPU time of that
thread (robust to a busy machine).

A photo detector sees each frame on its own (``--frames`` per framing and face height, median time). A
stream detector (``-stream``) sees clips as a fixed camera would: ``--clips`` per framing and face height,
each ``--clip-frames`` frames of one picture on one backdrop, the face standing still or drifting
``DRIFT_PX`` a frame, each clip a new stream. It counts the frames in which the face is found after the
first cycle of its search (the frames it takes to look at every region once), and the mean time over all
frames, since a stream's cost differs from frame to frame; the face-free frames become ``--face-free``
clips of ``--clip-frames`` frames, still or panning.

    python -m edge.tools.measure_detector [--detectors multiscale,multiscale-stream] [--frames 60] [--face-free 336]
        [--clips 15] [--clip-frames 40] [--markdown FILE]

Detectors: ``full``, ``short``, ``multiscale`` (the default detector on a photo), ``multiscale-small``
(``small_faces: true``), and as streams ``full-stream`` (``full`` on every frame, the old default),
``multiscale-stream`` (the default on a video, edge/stream_plan.py) and ``multiscale-small-stream``.

Every image is generated from the shipped files at run time; nothing is read from elsewhere or written
except the optional table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError
from edge.bench.stream import FRAME_H, FRAME_W, background
from edge.config import BUNDLED_SAMPLE
from edge.detector import FaceDetector
from edge.tracker import iou_xywh

HANDS = Path(__file__).with_name("hands")  # photos of hands cut out on transparency (see its README)
FACE_HEIGHTS = (24, 32, 48, 64, 96, 128, 192, 256, 400, FRAME_H)
ANGLES = (-20, -10, 0, 10, 20)
LIGHTING = {"dark": (0.35, 0), "as shot": (1.0, 0), "bright": (0.6, 110)}  # gain, offset
TIGHTNESS = (0.6, 0.75, 0.9)  # face height / picture height of a tight framing
FRAMINGS = ("whole-head", "tight")
DETECTORS = {  # name -> (edge.detector.model, small_faces, a stream's frame rather than a photo)
    "full": ("full", False, False),
    "short": ("short", False, False),
    "multiscale": ("multiscale", False, False),
    "full-stream": ("full", False, True),
    "multiscale-stream": ("multiscale", False, True),
    "multiscale-small": ("multiscale", True, False),
    "multiscale-small-stream": ("multiscale", True, True),
}
MIN_IOU = 0.3
DRIFT_PX = 1.5  # a drifting clip's face (or a face-free clip's scene) moves this far a frame
CONDITION_FROM = 48  # the rotation / lighting table counts faces this tall and taller


@dataclass(frozen=True)
class Picture:
    """An image and its face box (x, y, w, h)."""

    image: np.ndarray
    face: tuple[int, int, int, int]


@dataclass(frozen=True)
class Portrait:
    """A shipped public-domain portrait: its file, the part of the file that is the photograph (x, y, w, h; the
    rest is border) and the face in the file, the box both BlazeFace models find (checked by the tests)."""

    name: str
    path: Path
    area: tuple[int, int, int, int]
    face: tuple[int, int, int, int]


PORTRAITS = (
    Portrait("Collins", BUNDLED_SAMPLE / "astronaut_2.jpg", (78, 0, 482, 480), (244, 68, 92, 92)),
    Portrait(
        "Hopper", Path(__file__).with_name("portraits") / "grace_hopper.jpg", (0, 0, 512, 600), (164, 133, 205, 205)
    ),
)


def angle_name(angle: int) -> str:
    return f"{angle:+d}°" if angle else "0°"


def read_portraits() -> list[Picture]:
    """Each of ``PORTRAITS`` as its photograph and the face box in it."""
    pictures = []
    for portrait in PORTRAITS:
        image = cv2.imread(str(portrait.path))
        if image is None:
            raise UserError(f"{portrait.path}: bundled portrait missing or unreadable")
        x, y, w, h = portrait.area
        fx, fy, fw, fh = portrait.face
        pictures.append(Picture(image[y : y + h, x : x + w], (fx - x, fy - y, fw, fh)))
    return pictures


def framed(portrait: Picture, framing: str, index: int) -> Picture:
    """The portrait as a whole-head picture, or cut tight around the face at one of ``TIGHTNESS``."""
    fx, fy, fw, fh = portrait.face
    if framing == "whole-head":
        return portrait
    side = round(fh / TIGHTNESS[index % len(TIGHTNESS)])
    x0, y0 = fx + fw // 2 - side // 2, fy + fh // 2 - side // 2
    padded = cv2.copyMakeBorder(portrait.image, side, side, side, side, cv2.BORDER_REFLECT)
    crop = padded[y0 + side : y0 + 2 * side, x0 + side : x0 + 2 * side]
    return Picture(crop, (fx - x0, fy - y0, fw, fh))


def relit(image: np.ndarray, lighting: str) -> np.ndarray:
    gain, offset = LIGHTING[lighting]
    return cv2.convertScaleAbs(image, alpha=gain, beta=offset)


def place(picture: Picture, height: int, angle: float, centre: tuple[float, float], backdrop: np.ndarray):
    """``backdrop`` with the picture scaled to a face ``height`` px tall, rotated about the face centre, the
    face centred at ``centre``; returns the frame and the face box in it."""
    scale = height / picture.face[3]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(picture.image, None, fx=scale, fy=scale, interpolation=interpolation)
    fx, fy, fw, fh = (v * scale for v in picture.face)
    matrix = cv2.getRotationMatrix2D((fx + fw / 2, fy + fh / 2), angle, 1.0)
    matrix[:, 2] += np.array(centre) - (fx + fw / 2, fy + fh / 2)
    frame = cv2.warpAffine(
        image,
        matrix,
        (FRAME_W, FRAME_H),
        dst=backdrop.copy(),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    return frame, (centre[0] - fw / 2, centre[1] - fh / 2, fw, fh)


def variant(portraits: list[Picture], framing: str, index: int) -> tuple[Picture, int, str, str]:
    """The ``index``-th picture of a framing, its rotation, lighting and portrait: every angle x lighting x
    mirror combination in turn (and, tight, every tightness), the portraits taking turns two pictures each."""
    portrait = (index // 2) % len(portraits)
    picture = framed(portraits[portrait], framing, index)
    lighting = list(LIGHTING)[index // len(ANGLES) % len(LIGHTING)]
    image = relit(picture.image, lighting)
    if index // (len(ANGLES) * len(LIGHTING)) % 2:
        image = image[:, ::-1].copy()
        picture = Picture(image, (image.shape[1] - picture.face[0] - picture.face[2], *picture.face[1:]))
    else:
        picture = Picture(image, picture.face)
    return picture, ANGLES[index % len(ANGLES)], lighting, PORTRAITS[portrait].name


def centres(height: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The face centre's bounds (low, high) in x and y that keep a face ``height`` px tall in the frame."""
    half_w, half_h = min(height, FRAME_W) / 2, min(height, FRAME_H) / 2
    return (half_w, FRAME_W - half_w), (half_h, FRAME_H - half_h)


def face_frames(framing: str, height: int, count: int, seed: int = 0):
    """``count`` (frame, face box, (angle, lighting, portrait)) of one framing and face height, every angle x
    lighting x mirror combination in turn, each frame at a new random place on a new backdrop."""
    rng = np.random.default_rng([seed, height, FRAMINGS.index(framing)])
    portraits = read_portraits()
    for index in range(count):
        picture, angle, lighting, name = variant(portraits, framing, index)
        xs, ys = centres(height)
        centre = (rng.uniform(*xs), rng.uniform(*ys))
        yield (*place(picture, height, angle, centre, background(rng)), (angle_name(angle), lighting, name))


def face_clip(framing: str, height: int, index: int, frames: int, seed: int = 0):
    """Clip ``index`` of one framing and face height, as a fixed camera sees a person: ``frames`` (frame, face
    box, (angle, lighting, portrait)) on one backdrop, the ``index``-th picture of ``variant``, standing still
    (even ``index``) or drifting ``DRIFT_PX`` a frame in a random direction, stopped by the frame's edge."""
    rng = np.random.default_rng([seed, height, FRAMINGS.index(framing), index])
    picture, angle, lighting, name = variant(read_portraits(), framing, index)
    xs, ys = centres(height)
    start = np.array([rng.uniform(*xs), rng.uniform(*ys)])
    heading = rng.uniform(0, 2 * np.pi)
    step = DRIFT_PX * (index % 2) * np.array([np.cos(heading), np.sin(heading)])
    backdrop = background(rng)
    for frame in range(frames):
        centre = np.clip(start + frame * step, [xs[0], ys[0]], [xs[1], ys[1]])
        yield (*place(picture, height, angle, tuple(centre), backdrop), (angle_name(angle), lighting, name))


def face_free_frames(count: int, seed: int = 0):
    """(kind, frame) of frames without a face: textures, patterns, poster-like text, the portrait's face-free
    parts and hands, the kinds in turn."""
    rng = np.random.default_rng(seed)
    portraits, photos = read_portraits(), read_hands()
    makers = {
        "texture": background,
        "stripes": stripes,
        "checkerboard": checkerboard,
        "blobs": blobs,
        "poster": poster,
        "portrait part": lambda r: portrait_part(portraits[int(r.integers(0, len(portraits)))], r),
        "hands": lambda r: hands(photos, r),
    }
    kinds = list(makers)
    for index in range(count):
        kind = kinds[index % len(kinds)]
        yield kind, makers[kind](rng)


def face_free_clip(scene: np.ndarray, index: int, frames: int, seed: int = 0):
    """``frames`` frames of a face-free ``scene``: still (even ``index``), or the camera panning
    ``DRIFT_PX`` a frame in a random direction."""
    heading = np.random.default_rng([seed, index]).uniform(0, 2 * np.pi)
    step = DRIFT_PX * (index % 2) * np.array([np.cos(heading), np.sin(heading)])
    for frame in range(frames):
        shift = np.float32([[1, 0, frame * step[0]], [0, 1, frame * step[1]]])
        yield cv2.warpAffine(scene, shift, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REFLECT)


def stripes(rng: np.random.Generator) -> np.ndarray:
    period = rng.uniform(8, 80)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W]
    wave = 127.5 + 127.5 * np.sin((xs * np.cos(angle) + ys * np.sin(angle)) * 2 * np.pi / period)
    colour = rng.uniform(0.3, 1.0, 3)
    return (wave[..., None] * colour).astype(np.uint8)


def checkerboard(rng: np.random.Generator) -> np.ndarray:
    cell = int(rng.integers(6, 90))
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W]
    board = ((xs // cell + ys // cell) % 2).astype(np.uint8)
    light, dark = rng.integers(0, 256, (2, 3))
    return np.where(board[..., None] == 1, light, dark).astype(np.uint8)


def blobs(rng: np.random.Generator) -> np.ndarray:
    """Ellipses and circles of skin-like and other colours: the shapes most likely to fool a face detector."""
    frame = background(rng)
    for _ in range(int(rng.integers(3, 12))):
        centre = (int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H)))
        axes = (int(rng.integers(10, 150)), int(rng.integers(10, 150)))
        colour = [int(c) for c in rng.integers(40, 256, 3)]
        cv2.ellipse(frame, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    return frame


def poster(rng: np.random.Generator) -> np.ndarray:
    """A poster: a flat colour with lines of text and a few rectangles."""
    frame = np.full((FRAME_H, FRAME_W, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        cv2.rectangle(
            frame,
            (x, y),
            (x + int(rng.integers(20, 300)), y + int(rng.integers(20, 200))),
            [int(c) for c in rng.integers(0, 256, 3)],
            -1,
        )
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "))
    for line in range(int(rng.integers(2, 9))):
        text = "".join(rng.choice(letters, int(rng.integers(4, 20))))
        cv2.putText(
            frame,
            text,
            (int(rng.integers(0, 200)), 40 + line * 55),
            cv2.FONT_HERSHEY_SIMPLEX,
            float(rng.uniform(0.6, 2.2)),
            [int(c) for c in rng.integers(0, 256, 3)],
            int(rng.integers(1, 5)),
        )
    return frame


def portrait_part(portrait: Picture, rng: np.random.Generator) -> np.ndarray:
    """A part of a portrait that holds none of the face (suit, uniform, flag, background), scaled to the frame."""
    fx, fy, fw, fh = portrait.face
    height, width = portrait.image.shape[:2]
    regions = [
        (0, fy + fh + fh // 2, width, height),
        (0, 0, max(fx - fw // 2, 1), height),
        (min(fx + fw + fw // 2, width - 1), 0, width, height),
    ]
    x1, y1, x2, y2 = regions[int(rng.integers(0, len(regions)))]
    part_w = int(rng.integers(max((x2 - x1) // 3, 1), x2 - x1 + 1))
    part_h = int(rng.integers(max((y2 - y1) // 3, 1), y2 - y1 + 1))
    x = int(rng.integers(x1, x2 - part_w + 1))
    y = int(rng.integers(y1, y2 - part_h + 1))
    return cv2.resize(portrait.image[y : y + part_h, x : x + part_w], (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)


def read_hands() -> list[np.ndarray]:
    """The bundled hand photos, BGR with alpha."""
    paths = sorted(HANDS.glob("*.webp"))
    photos = [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in paths]
    for path, photo in zip(paths, photos):
        if photo is None or photo.ndim != 3 or photo.shape[2] != 4:
            raise UserError(f"{path}: bundled hand photo unreadable or without transparency")
    if not photos:
        raise UserError(f"{HANDS}: bundled hand photos missing")
    return photos


def hands(photos: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One to three real hands (open or a fist, palm or back, either hand) 80-460 px long, at any angle and
    lighting, on a texture: skin, fingers and knuckles with no face, what people wave at a camera."""
    frame = background(rng).astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        photo = photos[int(rng.integers(0, len(photos)))]
        photo = photo[:, ::-1] if rng.integers(0, 2) else photo
        colour = relit(np.ascontiguousarray(photo[..., :3]), list(LIGHTING)[int(rng.integers(0, len(LIGHTING)))])
        height, width = photo.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-180, 180), rng.uniform(80, 460) / width)
        matrix[:, 2] += (rng.uniform(0, FRAME_W) - width / 2, rng.uniform(0, FRAME_H) - height / 2)
        layer = cv2.warpAffine(colour, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha = np.ascontiguousarray(photo[..., 3])
        cover = cv2.warpAffine(alpha, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)[..., None] / 255.0
        frame = layer * cover + frame * (1 - cover)
    return frame.round().astype(np.uint8)


def found(detections, truth: tuple) -> bool:
    x, y, w, h = truth
    for detection in detections:
        dx, dy, dw, dh = detection.box
        centre_x, centre_y = dx + dw / 2, dy + dh / 2
        if x <= centre_x <= x + w and y <= centre_y <= y + h and iou_xywh(detection.box, truth) >= MIN_IOU:
            return True
    return False


def photo_cells(frames_per_height: int):
    """((framing, height), clips) per cell, each photo a clip of one frame."""
    for framing in FRAMINGS:
        for height in FACE_HEIGHTS:
            yield (framing, height), ([frame] for frame in face_frames(framing, height, frames_per_height))


def clip_cells(clips: int, frames: int):
    """((framing, height), clips) per cell, ``clips`` clips of ``frames`` frames each."""
    for framing in FRAMINGS:
        for height in FACE_HEIGHTS:
            yield (framing, height), [face_clip(framing, height, index, frames) for index in range(clips)]


def measure(detector: FaceDetector, cells, face_free_clips, stream: bool, warm_up: int = 0) -> dict:
    """Over each cell's clips (``photo_cells`` or ``clip_cells``), the fraction of frames after the first
    ``warm_up`` of each clip in which the face is found, overall and per rotation and lighting over faces >=
    ``CONDITION_FROM`` px; false detections per face-free frame, and their count by kind of frame
    (``face_free_clips`` yields (kind, clip)); CPU ms per frame of the one detecting thread
    (what a core would spend; on a shared machine the wall clock would time the neighbours too). Each clip
    is a new stream for the detector."""
    coverage, conditions, timings, others = {}, {}, [], []
    for (framing, height), clips in cells:
        hits = []
        for clip in clips:
            detector.new_stream()
            for number, (frame, truth, condition) in enumerate(clip):
                started = time.thread_time()
                detections = detector.detect(frame, stream)
                timings.append(time.thread_time() - started)
                if number >= warm_up:
                    hits.append(found(detections, truth))
                    others.append(sum(not found([detection], truth) for detection in detections))
                    for name in condition if height >= CONDITION_FROM else ():
                        conditions.setdefault(name, []).append(hits[-1])
        coverage[framing, height] = float(np.mean(hits))
    false_by_kind, frames = {}, 0
    for kind, clip in face_free_clips:
        detector.new_stream()
        for frame in clip:
            false_by_kind[kind] = false_by_kind.get(kind, 0) + len(detector.detect(frame, stream))
            frames += 1
    false = sum(false_by_kind.values())
    return {
        "coverage": coverage,
        "false_per_frame": false / max(frames, 1),
        "false": false,
        "false_by_kind": false_by_kind,
        "others_per_frame": float(np.mean(others)),
        "conditions": {name: float(np.mean(hits)) for name, hits in conditions.items()},
        "ms_median": 1000 * statistics.median(timings),
        "ms_mean": 1000 * statistics.mean(timings),
        "warm_up": warm_up,
    }


def measure_photos(detector: FaceDetector, frames_per_height: int, face_free: int) -> dict:
    face_free_photos = ((kind, [frame]) for kind, frame in face_free_frames(face_free))
    return measure(detector, photo_cells(frames_per_height), face_free_photos, False)


def measure_stream(detector: FaceDetector, clips: int, clip_frames: int, face_free: int) -> dict:
    """As a camera is used: every clip a new stream, its first cycle of the detector's search not counted."""
    face_free_clips = (
        (kind, face_free_clip(scene, i, clip_frames)) for i, (kind, scene) in enumerate(face_free_frames(face_free))
    )
    warm_up = detector.search_frames(FRAME_H, FRAME_W)
    return measure(detector, clip_cells(clips, clip_frames), face_free_clips, True, warm_up)


def coverage_table(results: dict, time_column: str, statistic: str) -> list[str]:
    heights = " | ".join("full" if h == FRAME_H else f"{h} px" for h in FACE_HEIGHTS)
    lines = [
        f"| detector | framing | {heights} | false / face-free frame | {time_column} |",
        "|---|---|" + "---|" * len(FACE_HEIGHTS) + "---|---|",
    ]
    for name, result in results.items():
        for framing in FRAMINGS:
            cells = " | ".join(f"{100 * result['coverage'][framing, h]:.0f} %" for h in FACE_HEIGHTS)
            lines.append(
                f"| {name} | {framing} | {cells} | {result['false_per_frame']:.3f} ({result['false']}) "
                f"| {result[statistic]:.1f} |"
            )
    return lines


def markdown(photos: dict, streams: dict, args: argparse.Namespace) -> str:
    lines = []
    if photos:
        lines += coverage_table(photos, "ms/frame (median)", "ms_median")
        lines += [
            "",
            f"Photos: coverage over {args.frames} frames per framing and face height (face height in a "
            f"{FRAME_W}x{FRAME_H} frame; full: as tall as the frame), false detections over {args.face_free} "
            "face-free frames; CPU time of the one detecting thread.",
            "",
        ]
    if streams:
        warm_ups = ", ".join(
            f"{name}: {result['warm_up']} frame{'s' * (result['warm_up'] != 1)}" for name, result in streams.items()
        )
        lines += coverage_table(streams, "ms/frame (mean)", "ms_mean")
        lines += [
            "",
            f"Streams: the fraction of frames in which the face is found, over {args.clips} clips of "
            f"{args.clip_frames} frames per framing and face height (the face still or drifting "
            f"{DRIFT_PX:g} px a frame), each clip's first frames not counted: one cycle of the detector's "
            f"search ({warm_ups}). False detections over {args.face_free} face-free clips of "
            f"{args.clip_frames} frames; CPU time per frame of the one detecting thread, mean over every frame "
            "of the face clips. Boxes other than the face per counted face frame (a false detection beside "
            "the face, or a box of it too far off): "
            + ", ".join(f"{name} {result['others_per_frame']:.3f}" for name, result in streams.items())
            + ".",
            "",
        ]
    results = {**photos, **streams}
    names = [
        name
        for name in [*map(angle_name, ANGLES), *LIGHTING, *(portrait.name for portrait in PORTRAITS)]
        if all(name in result["conditions"] for result in results.values())
    ]
    lines += [f"| detector | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for name, result in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * result['conditions'][c]:.1f} %" for c in names) + " |")
    lines += [
        "",
        f"Coverage by in-plane rotation, lighting and portrait, faces {CONDITION_FROM} px and taller, both framings "
        "(streams: frames after the first cycle).",
        "",
        *false_table(results, args),
    ]
    return "\n".join(lines)


def false_table(results: dict, args: argparse.Namespace) -> list[str]:
    """False detections counted by kind of face-free frame: which scenes fool which detector."""
    kinds = list(dict.fromkeys(kind for result in results.values() for kind in result["false_by_kind"]))
    lines = [f"| detector | {' | '.join(kinds)} |", "|---|" + "---|" * len(kinds)]
    for name, result in results.items():
        lines.append(f"| {name} | " + " | ".join(str(result["false_by_kind"].get(k, "-")) for k in kinds) + " |")
    return [
        *lines,
        "",
        f"False detections by kind of face-free frame, the {args.face_free} frames (photos) or clips of "
        f"{args.clip_frames} frames (streams) shared out among the kinds in turn.",
    ]


def detector_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in DETECTORS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text}: give one or more of {', '.join(DETECTORS)}, comma-separated")
    return names


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text}: not a number between 0 and 1")
    return value


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text}: not a whole number >= 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="measure_detector", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--detectors",
        type=detector_names,
        default=list(DETECTORS),
        help=f"comma-separated, of: {', '.join(DETECTORS)} (default: all)",
    )
    parser.add_argument("--frames", type=positive, default=60, help="frames per framing and face height (default: 60)")
    parser.add_argument("--face-free", type=positive, default=336, help="face-free frames (default: 336)")
    parser.add_argument(
        "--score-threshold",
        type=probability,
        help="one threshold for every pass instead of each pass's own (edge.detector.score_threshold)",
    )
    parser.add_argument(
        "--clips", type=positive, default=15, help="stream clips per framing and face height (default: 15)"
    )
    parser.add_argument("--clip-frames", type=positive, default=40, help="frames per stream clip (default: 40)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    photos, streams = {}, {}
    for name in args.detectors:
        model, small_faces, stream = DETECTORS[name]
        detector = FaceDetector(model, args.score_threshold, min_face_px=1, threads=1, small_faces=small_faces)
        if stream:
            warm_up = detector.search_frames(FRAME_H, FRAME_W)
            if args.clip_frames <= warm_up:
                parser.error(f"--clip-frames {args.clip_frames}: {name} counts only after its first {warm_up} frames")
            streams[name] = measure_stream(detector, args.clips, args.clip_frames, args.face_free)
        else:
            photos[name] = measure_photos(detector, args.frames, args.face_free)
    table = markdown(photos, streams, args)
    print(table)
    if args.markdown:
        try:
            args.markdown.write_text(table + "\n")
        except OSError as exc:
            print(f"measure_detector: error: {args.markdown}: cannot write ({exc.strerror or exc})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
