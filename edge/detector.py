"""Face detection with MediaPipe BlazeFace (short or full range) through LiteRT; decoding in numpy.

BlazeFace outputs one box regression and one score per fixed anchor; the anchors, the box decoding and
MediaPipe's *weighted* NMS (overlapping boxes are averaged by score, which steadies boxes frame to frame)
are re-implemented here because the MediaPipe graph that normally does them is not on the device.

Model facts (checked against the bundled files' output shapes in ``tests/edge/test_detector.py``):

* short range: 128x128 input, SSD layers with strides 8, 16, 16, 16 and 2 anchors per layer and cell
  -> 16*16*2 + 8*8*6 = 896 anchors; tuned for faces within ~2 m that fill much of the frame.
* full range: 192x192 input, one layer with stride 4 and 1 anchor per cell -> 48*48 = 2304 anchors;
  tuned for a room: on a whole 640x480 frame it finds faces from ~64 px (docs/detector.md).

``FaceDetector`` runs them in passes over regions of the frame (the whole of it, squares, small tiles)
and merges every pass's candidates in one weighted NMS.

Input is RGB scaled to [-1, 1]; box offsets are in input pixels relative to the anchor centre.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.preprocess import shrink
from edge.runtime import load_interpreter
from edge.stream_plan import Region, StreamPlan, follow_region
from edge.tracker import iou_xywh

MODELS_DIR = Path(__file__).resolve().parent / "models"
GRAY = (128, 128, 128)  # what a region sees past the frame's edge: neither face nor texture


@dataclass(frozen=True)
class BlazeFaceSpec:
    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int


SPECS = {
    "short": BlazeFaceSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    "full": BlazeFaceSpec("face_detection_full_range.tflite", 192, (4,), 1),
}


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, w, h in source pixels
    score: float


def generate_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the model's output order (MediaPipe SsdAnchorsCalculator with
    fixed anchor size: consecutive layers of equal stride share one grid, their anchors interleaved)."""
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        same = 1
        while layer + same < len(spec.strides) and spec.strides[layer + same] == stride:
            same += 1
        cells = int(np.ceil(spec.input_size / stride))
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, same * spec.anchors_per_layer, axis=1).reshape(-1, 2))
        layer += same
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster of boxes overlapping the best remaining one by more than
    ``iou_threshold`` becomes their score-weighted mean box, scored as the best member."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    remaining = np.ones(len(scores), dtype=bool)
    kept = []
    for best in range(len(scores)):
        if not remaining[best]:
            continue
        cluster = remaining & (iou_xyxy(boxes[best], boxes) > iou_threshold)
        cluster[best] = True
        weights = scores[cluster][:, None]
        kept.append(((boxes[cluster] * weights).sum(axis=0) / weights.sum(), float(scores[best])))
        remaining &= ~cluster
    return kept


def iou_xyxy(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x1, y1, x2, y2) box with each row of ``boxes``."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return intersection / np.maximum(area + areas - intersection, 1e-9)


class Letterbox:
    """Fits a frame into the square model input without distortion and maps model boxes back."""

    def __init__(self, frame_shape: tuple[int, ...], size: int):
        height, width = frame_shape[:2]
        self.scale = size / max(height, width)
        self.size = size
        self.resized = (round(width * self.scale), round(height * self.scale))
        self.pad_x = (size - self.resized[0]) // 2
        self.pad_y = (size - self.resized[1]) // 2

    def apply(self, frame_bgr: np.ndarray) -> np.ndarray:
        resized = shrink(frame_bgr, *self.resized)
        return cv2.copyMakeBorder(
            resized,
            self.pad_y,
            self.size - self.resized[1] - self.pad_y,
            self.pad_x,
            self.size - self.resized[0] - self.pad_x,
            cv2.BORDER_CONSTANT,
            value=0,
        )

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes in normalised model coordinates -> source pixels."""
        pixels = boxes_xyxy * self.size - np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y])
        return pixels / self.scale


class BlazeFace:
    """One BlazeFace model: the raw face candidates of a frame, or of one region of it, in frame pixels."""

    def __init__(self, model: str, min_score: float, threads: int):
        self.spec = SPECS[model]
        self.logit_threshold = _logit(min_score)
        self.interpreter = load_interpreter(MODELS_DIR / self.spec.file, threads)
        self.anchors = generate_anchors(self.spec)
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self._scores, self._regressors = outputs[0]["index"], outputs[1]["index"]
        self._letterbox: Letterbox | None = None
        self._letterbox_shape: tuple[int, ...] = ()

    def candidates(self, frame_bgr: np.ndarray, origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) boxes (x1, y1, x2, y2) in pixels of the frame ``frame_bgr`` was cut from at ``origin``
        (a tile), and their N scores; before NMS, so that several passes can be merged in one."""
        letterbox = self._letterbox_for(frame_bgr.shape)
        model_input = cv2.cvtColor(letterbox.apply(frame_bgr), cv2.COLOR_BGR2RGB)
        model_input = model_input.astype(np.float32)[None] * (2 / 255) - 1
        self.interpreter.set_tensor(self._input, model_input)
        self.interpreter.invoke()
        logits = self.interpreter.get_tensor(self._scores)[0, :, 0]
        chosen = np.flatnonzero(logits > self.logit_threshold)
        boxes = self._decode(self.interpreter.get_tensor(self._regressors)[0, chosen, :4], chosen)
        boxes = letterbox.to_source(boxes) + np.array([*origin, *origin], dtype=np.float32)
        return boxes, 1 / (1 + np.exp(-logits[chosen]))

    def look(self, frame_bgr: np.ndarray, region: Region) -> tuple[np.ndarray, np.ndarray]:
        """``candidates`` of one region (x, y, w, h) of the frame, in the frame's pixels."""
        x, y, w, h = region
        height, width = frame_bgr.shape[:2]
        if x >= 0 and y >= 0 and x + w <= width and y + h <= height:
            return self.candidates(frame_bgr[y : y + h, x : x + w], (x, y))
        return self._look_past_the_edges(frame_bgr, region)

    def _look_past_the_edges(self, frame_bgr: np.ndarray, region: Region) -> tuple[np.ndarray, np.ndarray]:
        """A region reaching past the frame (``surround``) sees mid-gray there. The frame is shrunk to the
        model's scale before it is set in the gray: padding it at full size first would cost more than the
        model run (a 640x480 frame's surround is 1280x1120 pixels)."""
        x, y, w, h = region
        height, width = frame_bgr.shape[:2]
        scale = self.spec.input_size / max(w, h)
        small = shrink(frame_bgr, round(width * scale), round(height * scale))
        canvas = np.full((round(h * scale), round(w * scale), 3), GRAY, dtype=np.uint8)
        left, top = round(-x * scale), round(-y * scale)
        x1, y1 = max(left, 0), max(top, 0)
        x2, y2 = min(left + small.shape[1], canvas.shape[1]), min(top + small.shape[0], canvas.shape[0])
        canvas[y1:y2, x1:x2] = small[y1 - top : y2 - top, x1 - left : x2 - left]
        boxes, scores = self.candidates(canvas)
        return boxes / scale + np.array([x, y, x, y], dtype=np.float32), scores

    def _letterbox_for(self, shape: tuple[int, ...]) -> Letterbox:
        """Cached per frame size: a camera's resolution does not change between frames."""
        if self._letterbox_shape != shape[:2]:
            self._letterbox = Letterbox(shape, self.spec.input_size)
            self._letterbox_shape = shape[:2]
        return self._letterbox

    def _decode(self, raw: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Regressions (dx, dy, w, h in input pixels) -> (x1, y1, x2, y2) normalised to the model input."""
        centres = self.anchors[candidates] + raw[:, :2] / self.spec.input_size
        half = raw[:, 2:4] / self.spec.input_size / 2
        return np.concatenate([centres - half, centres + half], axis=1)


@functools.lru_cache(maxsize=8)
def whole(height: int, width: int) -> tuple[Region, ...]:
    return ((0, 0, width, height),)


@functools.lru_cache(maxsize=8)
def surround(height: int, width: int) -> tuple[Region, ...]:
    """The whole frame set in a mid-gray border of half its longer side on every side. A face that fills a
    photo (a profile picture, a dataset's face crop, cut at the chin or the hair) is too big and too cut for
    both models; seen at half that size with room around it, ``short`` finds it: on ferplus-4class's
    validation faces as 192 px photos the other passes found 54 %, with this one 95 % (docs/detector.md)."""
    border = max(height, width) // 2
    return ((-border, -border, width + 2 * border, height + 2 * border),)


@functools.lru_cache(maxsize=8)
def squares(height: int, width: int) -> tuple[Region, ...]:
    """Squares of 0.8 of the frame's short side covering it: four of 384 px in 640x480. The model's input is
    square, so a 4:3 frame letterboxed into it wastes a quarter of it; in these squares every face is 1.7
    times the size it has in the whole frame, which is what lifts 48 px faces from ~45 % to ~100 %
    (docs/detector.md)."""
    return covering(height, width, int(min(height, width) * 0.8))


@functools.lru_cache(maxsize=8)
def tiles(height: int, width: int) -> tuple[Region, ...]:
    """Squares half the short side (240 px in 640x480: 2.7 times the whole frame's scale), twelve for 4:3."""
    return covering(height, width, min(height, width) // 2)


def covering(height: int, width: int, side: int) -> tuple[Region, ...]:
    """``side`` px squares covering the frame, as few as overlap by at least a quarter of a side (so a face
    on a seam is whole in one of them), spread evenly."""

    def starts(length: int) -> list[int]:
        count = int(np.ceil((length - side) / max(int(side * 0.75), 1))) + 1
        return [0] if count == 1 else [i * (length - side) // (count - 1) for i in range(count)]

    return tuple((x, y, side, side) for y in starts(height) for x in starts(width))


@dataclass(frozen=True)
class Pass:
    """One model run over each region of a frame."""

    model: BlazeFace
    regions: Callable[[int, int], tuple[Region, ...]]

    def candidates(self, frame_bgr: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.model.look(frame_bgr, region) for region in self.regions(*frame_bgr.shape[:2])]


# Each pass's score threshold, measured (docs/detector.md): ``short`` scores textures, posters and
# checkerboards up to ~0.7; ``full`` stays under ~0.5 on whole frames, but the closer it looks the higher it
# scores random texture: up to ~0.6 in squares, ~0.7 in tiles. ``short`` around a followed face keeps its own.
# ``confirm``: ``short`` around a face ``full`` found, as a second opinion. ``full`` takes some fists, blobs
# and textures for faces at 0.6-0.64, where ``short`` around them scores at most ~0.3; around true faces of
# 24 px and more it scores 0.75 and above.
MIN_SCORE = {"full": 0.5, "short": 0.75, "squares": 0.6, "tiles": 0.7, "confirm": 0.5}
FULL = ("full", whole, "full")  # a pass: (model, regions, its threshold in MIN_SCORE)
SQUARES = ("full", squares, "squares")
SHORT = ("short", whole, "short")
SURROUND = ("short", surround, "short")
TILES = ("full", tiles, "tiles")
PLANS = {  # detector -> its passes on a photo (and on a stream's frame, but for multiscale's STREAM_SEARCH)
    "multiscale": (SQUARES, SHORT, SURROUND),
    "full": (FULL,),
    "short": (SHORT,),
    "skip": (),
}
STREAM_SEARCH = (FULL, SHORT, SQUARES)  # multiscale on a stream: the passes its search visits, one region a frame
FOLLOW = ("short", "short")  # ... and the model (and threshold) that looks again around each face it found
CONFIRM = ("short", "confirm")  # multiscale: the model that must agree, around it, with each face ``full`` finds


class FaceDetector:
    """The detection stage the daemon configures (``edge.detector``).

    * ``multiscale`` (default): on a photo, ``full`` on squares of it (four for 4:3) and ``short`` on the
      whole of it, alone and set in a gray surround (``surround``: a face that overflows the photo), their
      candidates merged by one weighted NMS. Neither model alone covers the faces a
      camera or a photo collection shows: ``full`` finds small and whole-head faces but drops faces that
      fill the frame and many tightly framed ones (an ID photo, a profile picture), ``short`` finds those
      but nothing under ~90 px in 640x480 (docs/detector.md). On a stream's frame (``stream=True``) the
      photo's cost (six model runs) would take a 640x480 pipeline far below 100 fps on one thread, so
      there a ``StreamPlan`` (edge/stream_plan.py) spends one or two: ``short`` around each face found in
      the last frames, and one region of a search that rotates over the frame (``STREAM_SEARCH``), every
      frame while nobody is in view and every third frame while the faces in view are found.
    * A face that ``full`` finds in a ``multiscale`` pass (a photo's squares or tiles, a stream's search step)
      counts only when ``short`` on a square three times its height around it finds it too: ``full``
      takes some fists and blobs for faces, ``short`` seen that close does not (docs/detector.md).
    * ``small_faces``: adds ``full`` on twelve smaller tiles, for faces down to ~32 px in 640x480: on a
      photo in every frame (several times the cost, hence a switch), on a stream as twelve more steps of
      the search.
    * ``full`` / ``short``: one model on the whole frame (for measurements and for a slow device).
    * ``skip``: no detection, the whole image is the face (a folder of face crops; DeepFace's "skip").

    ``score_threshold`` None uses each pass's measured threshold (``MIN_SCORE``); a number overrides all.
    """

    def __init__(
        self,
        model: str = "multiscale",
        score_threshold: float | None = None,
        nms_iou: float = 0.3,
        min_face_px: int = 20,
        threads: int = 1,
        small_faces: bool = False,
    ):
        if model not in PLANS:
            raise ValueError(f"detector {model!r}: not one of {', '.join(PLANS)}")
        self.model = model
        self.nms_iou = nms_iou
        self.min_face_px = min_face_px
        extra = (TILES,) if small_faces and model != "skip" else ()
        models = {}  # one interpreter per model and threshold, shared by the photo and the stream plan

        def blazeface(name: str, kind: str) -> BlazeFace:
            threshold = score_threshold or MIN_SCORE[kind]
            if (name, threshold) not in models:
                models[name, threshold] = BlazeFace(name, threshold, threads)
            return models[name, threshold]

        self.passes = [Pass(blazeface(name, kind), regions) for name, regions, kind in PLANS[model] + extra]
        self.stream_plan: StreamPlan | None = None  # None: a stream's frame gets the photo's passes
        self.confirm: BlazeFace | None = None  # multiscale: the second opinion on ``full``'s faces
        if model == "multiscale":
            search = [(blazeface(name, kind), regions) for name, regions, kind in STREAM_SEARCH + extra]
            self.stream_plan = StreamPlan(search, blazeface(*FOLLOW))
            self.confirm = blazeface(*CONFIRM)

    def detect(self, frame_bgr: np.ndarray, stream: bool = False) -> list[Detection]:
        """Faces in a BGR frame, best first, boxes clipped to the frame and at least ``min_face_px`` tall.
        ``stream``: the frame is the next of a video's, with a time budget per frame (see the class)."""
        height, width = frame_bgr.shape[:2]
        if self.model == "skip":
            return [Detection((0.0, 0.0, float(width), float(height)), 1.0)]
        if not (stream and self.stream_plan):
            found = []
            for one_pass in self.passes:
                candidates = one_pass.candidates(frame_bgr)
                found += self._confirmed(frame_bgr, candidates) if self._doubted(one_pass.model) else candidates
            return self._merged(found, height, width)
        following, search = self.stream_plan.runs(height, width)
        found = self._merged([follow.look(frame_bgr, around) for follow, around in following], height, width)
        if search:
            found += self._searched(frame_bgr, *search, found)
        detections = sorted(found, key=lambda face: -face.score)
        self.stream_plan.update([detection.box for detection in detections])
        return detections

    def new_stream(self) -> None:
        """Forget the faces followed so far: the next ``stream`` frame starts another stream."""
        if self.stream_plan:
            self.stream_plan.restart()

    def search_frames(self, height: int, width: int) -> int:
        """Frames a stream's search takes to look at every region of a frame this size once (1 without one)."""
        return len(self.stream_plan.cycle(height, width)) if self.stream_plan else 1

    def _searched(
        self, frame_bgr: np.ndarray, model: BlazeFace, region: Region, found: list[Detection]
    ) -> list[Detection]:
        """The faces a stream's search step finds that are not among those ``found`` around followed faces."""
        searched = self._merged([model.look(frame_bgr, region)], *frame_bgr.shape[:2])
        new = [face for face in searched if all(iou_xywh(face.box, known.box) <= self.nms_iou for known in found)]
        return [face for face in new if self._agrees(frame_bgr, face)] if self._doubted(model) else new

    def _doubted(self, model: BlazeFace) -> bool:
        """Whether this model's faces need the second opinion: ``full``'s, in ``multiscale``."""
        return self.confirm is not None and model.spec is SPECS["full"]

    def _confirmed(
        self, frame_bgr: np.ndarray, candidates: list[tuple[np.ndarray, np.ndarray]]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """A ``full`` pass's candidates merged into faces, only those ``short`` agrees with kept, as
        candidates (x1, y1, x2, y2 boxes and scores) for the frame's one merge."""
        kept = []
        for face in self._merged(candidates, *frame_bgr.shape[:2]):
            if self._agrees(frame_bgr, face):
                x, y, w, h = face.box
                kept.append((np.array([[x, y, x + w, y + h]], dtype=np.float32), np.array([face.score], np.float32)))
        return kept

    def _agrees(self, frame_bgr: np.ndarray, face: Detection) -> bool:
        """Whether ``short`` on a square three times the face's height around it finds the same face."""
        boxes, _ = self.confirm.look(frame_bgr, follow_region(face.box, *frame_bgr.shape[:2]))
        return any(iou_xywh((x1, y1, x2 - x1, y2 - y1), face.box) >= self.nms_iou for x1, y1, x2, y2 in boxes)

    def _merged(self, found: list[tuple[np.ndarray, np.ndarray]], height: int, width: int) -> list[Detection]:
        """Every run's candidates in one weighted NMS, clipped to the frame, too small ones left out."""
        if not sum(len(boxes) for boxes, _ in found):
            return []
        boxes = np.concatenate([boxes for boxes, _ in found])
        scores = np.concatenate([scores for _, scores in found])
        detections = []
        for box, score in weighted_nms(boxes, scores, self.nms_iou):
            x1, y1, x2, y2 = np.clip(box, 0, [width, height, width, height])
            if y2 - y1 >= self.min_face_px and x2 > x1:
                detections.append(Detection((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), score))
        return detections


def _logit(probability: float) -> float:
    """Thresholding raw logits skips the sigmoid on the thousands of empty anchors."""
    return float(np.log(probability / (1 - probability)))
