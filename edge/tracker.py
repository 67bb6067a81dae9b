"""Face identity across frames and temporally smoothed, non-flickering emotion labels.

Per-frame classifications of the same face jitter (blinks, motion blur, a half-turned head). A track
keeps an exponential moving average of the class probabilities and changes its label only when another
class beats the current one by ``hysteresis``, so a consumer sees real changes, not noise.
Matching is greedy by IoU, best pairs first: with the handful of faces a camera sees that is as good as
the Hungarian algorithm and needs no dependency.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    face_id: int
    box: tuple[float, float, float, float]
    scores: np.ndarray  # smoothed probabilities, in label order
    label: int  # index of the current (hysteresis-held) class
    missed: int = 0
    changed: bool = False  # the label switched on the latest update
    new: bool = True  # created on the latest update
    last_event_at: float | None = None  # monotonic time of the last event about this face


def iou_xywh(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    return intersection / (a[2] * a[3] + b[2] * b[3] - intersection)


class Tracker:
    def __init__(
        self, iou_threshold: float = 0.3, max_missed_frames: int = 5, ema_alpha: float = 0.5, hysteresis: float = 0.1
    ):
        self.iou_threshold = iou_threshold
        self.max_missed_frames = max_missed_frames
        self.ema_alpha = ema_alpha
        self.hysteresis = hysteresis
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(self, boxes: list[tuple[float, float, float, float]], probabilities: np.ndarray) -> list[Track]:
        """Match this frame's faces to tracks; returns the tracks seen in this frame (new ones included)."""
        for track in self.tracks:
            track.new = track.changed = False
        matches = self._match(boxes)
        seen = []
        for index, box in enumerate(boxes):
            track = matches.get(index)
            if track is None:
                track = self._start(box, probabilities[index])
            else:
                self._follow(track, box, probabilities[index])
            seen.append(track)
        for track in self.tracks:
            if not any(track is s for s in seen):
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed_frames]
        return seen

    def _match(self, boxes) -> dict[int, Track]:
        pairs = sorted(
            ((iou_xywh(box, track.box), index, track) for index, box in enumerate(boxes) for track in self.tracks),
            key=lambda pair: -pair[0],
        )
        matches: dict[int, Track] = {}
        for overlap, index, track in pairs:
            if overlap < self.iou_threshold:
                break
            if index not in matches and all(track is not m for m in matches.values()):
                matches[index] = track
        return matches

    def _start(self, box, probabilities: np.ndarray) -> Track:
        track = Track(next(self._ids), box, probabilities.astype(np.float32), int(np.argmax(probabilities)))
        self.tracks.append(track)
        return track

    def _follow(self, track: Track, box, probabilities: np.ndarray) -> None:
        track.box, track.missed = box, 0
        track.scores = self.ema_alpha * probabilities + (1 - self.ema_alpha) * track.scores
        best = int(np.argmax(track.scores))
        if best != track.label and track.scores[best] > track.scores[track.label] + self.hysteresis:
            track.label, track.changed = best, True
