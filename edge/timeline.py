"""Each face's emotion over a recording: kept compactly while ``edge annotate`` runs, then drawn as a PNG
(stacked smoothed scores per face, time in seconds) and summed up (share of time in each emotion, number of
changes) as JSON and Markdown.

Per face and frame only the frame number, the smoothed label and the four smoothed scores are kept, in
typed arrays (about 20 bytes a face-frame: 0.4 MB for ten minutes of one face at 30 fps), never an image.
The picture is drawn with OpenCV and numpy: matplotlib is not an edge dependency.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.drawing import FONT, TOO_SMALL, TOO_SMALL_COLOUR, label_colours

WIDTH = 1200
LEFT, RIGHT = 120, 24  # margins: face names on the left
BAND_H, STRIP_H, GAP = 54, 10, 16  # stacked scores, the smoothed emotion below them, space between faces
HEADER_H, AXIS_H = 56, 44
MAX_FACES_DRAWN = 12  # the longest-seen faces; the rest are in the CSV and the summary
BACKGROUND, ABSENT, INK = (255, 255, 255), (238, 238, 238), (40, 40, 40)  # BGR
NICE_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass
class FaceHistory:
    face_id: int
    frames: array = field(default_factory=lambda: array("l"))
    labels: array = field(default_factory=lambda: array("b"))
    scores: array = field(default_factory=lambda: array("f"))  # classes per frame, flattened

    def add(self, frame: int, label: int, scores: np.ndarray) -> None:
        self.frames.append(frame)
        self.labels.append(label)
        self.scores.extend(scores.astype(np.float32).tolist())

    def changes(self) -> int:
        """How often the smoothed (hysteresis-held) emotion switched while the face was tracked."""
        labels = np.frombuffer(self.labels, dtype=np.int8)
        return int(np.count_nonzero(labels[1:] != labels[:-1]))


class Timeline:
    """The recording's faces, frame by frame; ``add`` is called once per face and frame."""

    def __init__(self, labels: list[str], fps: float):
        self.labels = labels
        self.fps = fps
        self.faces: dict[int, FaceHistory] = {}
        self.too_small_frames = array("l")  # one entry per too-small face and frame
        self.frames = 0  # frames seen so far (the last index + 1)

    def add(self, frame: int, face_id: int, label: int, scores: np.ndarray) -> None:
        self.faces.setdefault(face_id, FaceHistory(face_id)).add(frame, label, scores)

    def add_too_small(self, frame: int) -> None:
        self.too_small_frames.append(frame)

    def summary(self) -> list[dict]:
        """Per face: when it was seen (s), for how long, its share of that time in each smoothed emotion,
        its dominant emotion and its number of changes."""
        rows = []
        for face in self.faces.values():
            counts = np.bincount(np.frombuffer(face.labels, dtype=np.int8), minlength=len(self.labels))
            rows.append(
                {
                    "face_id": face.face_id,
                    "first_s": round(face.frames[0] / self.fps, 2),
                    "last_s": round(face.frames[-1] / self.fps, 2),
                    "seen_s": round(len(face.frames) / self.fps, 2),
                    "frames": len(face.frames),
                    "share": {
                        label: round(float(count) / len(face.frames), 4) for label, count in zip(self.labels, counts)
                    },
                    "dominant": self.labels[int(np.argmax(counts))],
                    "changes": face.changes(),
                }
            )
        return rows

    def image(self, title: str) -> np.ndarray:
        """The timeline as a BGR image: a legend, then per face a band of stacked smoothed scores with its
        smoothed emotion beneath, over a shared time axis in seconds."""
        longest = sorted(self.faces.values(), key=lambda face: -len(face.frames))[:MAX_FACES_DRAWN]
        faces = sorted(longest, key=lambda face: face.face_id)
        rows = len(faces) + (1 if self.too_small_frames else 0)
        height = HEADER_H + max(rows, 1) * (BAND_H + STRIP_H + GAP) + AXIS_H
        canvas = np.full((height, WIDTH, 3), BACKGROUND, dtype=np.uint8)
        colours = [colour[::-1] for colour in label_colours(self.labels)]
        self._header(canvas, title, colours, len(self.faces) - len(faces))
        top = HEADER_H
        for face in faces:
            self._face_row(canvas, face, top, colours)
            top += BAND_H + STRIP_H + GAP
        if self.too_small_frames:
            self._too_small_row(canvas, top)
            top += BAND_H + STRIP_H + GAP
        self._axis(canvas, top)
        return canvas

    @property
    def plot_width(self) -> int:
        return WIDTH - LEFT - RIGHT

    def _columns(self, frames) -> tuple[np.ndarray, np.ndarray]:
        """(entry, column) pairs: the pixel columns each frame number covers, at least one (a short clip's
        frame spans several columns, a long one's column holds several frames)."""
        span = max(self.frames, 1)
        frames = np.asarray(frames, dtype=np.int64)
        starts = np.minimum(frames * self.plot_width // span, self.plot_width - 1)
        widths = np.maximum(np.minimum((frames + 1) * self.plot_width // span, self.plot_width) - starts, 1)
        entries = np.repeat(np.arange(len(frames)), widths)
        offsets = np.arange(int(widths.sum())) - np.repeat(np.cumsum(widths) - widths, widths)
        return entries, np.repeat(starts, widths) + offsets

    def _header(self, canvas: np.ndarray, title: str, colours: list, hidden: int) -> None:
        text = title if not hidden else f"{title} ({hidden} shorter face(s) only in faces.csv)"
        cv2.putText(canvas, text, (LEFT, 22), FONT, 0.55, INK, 1, cv2.LINE_AA)
        x = LEFT
        for label, colour in zip(self.labels + [TOO_SMALL], colours + [TOO_SMALL_COLOUR[::-1]]):
            cv2.rectangle(canvas, (x, 34), (x + 14, 46), colour, cv2.FILLED)
            cv2.putText(canvas, label, (x + 20, 45), FONT, 0.45, INK, 1, cv2.LINE_AA)
            x += 30 + cv2.getTextSize(label, FONT, 0.45, 1)[0][0]

    def _face_row(self, canvas: np.ndarray, face: FaceHistory, top: int, colours: list) -> None:
        """Per pixel column, the mean smoothed scores of the frames that fall in it, stacked bottom-up in
        label order; columns where the face was not tracked stay light gray."""
        classes = len(self.labels)
        entries, columns = self._columns(face.frames)
        sums = np.zeros((self.plot_width, classes))
        np.add.at(sums, columns, np.frombuffer(face.scores, dtype=np.float32).reshape(-1, classes)[entries])
        counts = np.bincount(columns, minlength=self.plot_width)
        label_votes = np.zeros((self.plot_width, classes), dtype=np.int64)
        np.add.at(label_votes, (columns, np.frombuffer(face.labels, dtype=np.int8)[entries]), 1)
        band = canvas[top : top + BAND_H, LEFT : LEFT + self.plot_width]
        strip = canvas[top + BAND_H + 2 : top + BAND_H + STRIP_H, LEFT : LEFT + self.plot_width]  # 2 px apart
        band[:], strip[:] = ABSENT, ABSENT
        present = counts > 0
        means = sums[present] / counts[present, None]
        tops = np.round(np.cumsum(means / means.sum(axis=1, keepdims=True), axis=1) * BAND_H).astype(int)
        rows = np.arange(BAND_H)[::-1][:, None]  # height above the band's bottom of each pixel row
        stacked = band[:, present]
        for index in range(classes):
            below = tops[:, index - 1] if index else np.zeros(len(tops), dtype=int)
            stacked[(rows >= below) & (rows < tops[:, index])] = colours[index]
        band[:, present] = stacked
        strip[:, present] = np.asarray(colours, dtype=np.uint8)[label_votes[present].argmax(axis=1)]
        cv2.putText(canvas, f"face {face.face_id}", (8, top + 22), FONT, 0.5, INK, 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{len(face.frames) / self.fps:.1f} s", (8, top + 42), FONT, 0.42, INK, 1, cv2.LINE_AA)

    def _too_small_row(self, canvas: np.ndarray, top: int) -> None:
        """Where faces too small to read were seen: gray columns, relative to the column with the most."""
        _, columns = self._columns(self.too_small_frames)
        counts = np.bincount(columns, minlength=self.plot_width)
        heights = np.round(BAND_H * counts / max(counts.max(), 1)).astype(int)
        band = canvas[top : top + BAND_H, LEFT : LEFT + self.plot_width]
        band[:] = ABSENT
        rows = np.arange(BAND_H)[::-1][:, None]
        band[rows < heights] = TOO_SMALL_COLOUR[::-1]
        cv2.putText(canvas, TOO_SMALL, (8, top + 22), FONT, 0.5, INK, 1, cv2.LINE_AA)
        cv2.putText(canvas, "(no id)", (8, top + 42), FONT, 0.42, INK, 1, cv2.LINE_AA)

    def _axis(self, canvas: np.ndarray, top: int) -> None:
        duration = self.frames / self.fps
        cv2.line(canvas, (LEFT, top), (LEFT + self.plot_width, top), INK, 1)
        step = next((s for s in NICE_STEPS_S if duration / s <= 12), NICE_STEPS_S[-1])
        for tick in np.arange(0, duration + 1e-9, step):
            x = LEFT + min(int(tick / max(duration, 1e-9) * self.plot_width), self.plot_width - 1)
            cv2.line(canvas, (x, top), (x, top + 5), INK, 1)
            cv2.putText(canvas, seconds_text(tick), (x - 10, top + 20), FONT, 0.42, INK, 1, cv2.LINE_AA)
        cv2.putText(canvas, "time (s)", (LEFT + self.plot_width // 2 - 30, top + 38), FONT, 0.45, INK, 1, cv2.LINE_AA)


def seconds_text(seconds: float) -> str:
    return f"{seconds:g}" if seconds < 10 or math.isclose(seconds, round(seconds)) else f"{seconds:.0f}"


def summary_markdown(summary: dict) -> str:
    """summary.json as a page a person reads: the run, then one row per face."""
    labels = summary["labels"]
    lines = [
        f"# {summary['source']}",
        "",
        f"{summary['frames']} frames, {summary['duration_s']} s at {summary['fps']} fps; "
        f"{len(summary['faces'])} face(s) tracked; {summary['too_small']} detection(s) too small to read "
        f"(box under {summary['min_face_px']} px). Processed at {summary['processing_fps']} fps.",
        "",
        "| face | first (s) | last (s) | seen (s) | " + " | ".join(labels) + " | dominant | changes |",
        "|---" * (len(labels) + 6) + "|",
    ]
    for face in summary["faces"]:
        shares = " | ".join(f"{100 * face['share'][label]:.0f}%" for label in labels)
        lines.append(
            f"| {face['face_id']} | {face['first_s']} | {face['last_s']} | {face['seen_s']} | {shares} | "
            f"{face['dominant']} | {face['changes']} |"
        )
    return "\n".join(lines) + "\n"
