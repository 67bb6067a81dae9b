"""Face boxes and labels drawn on frames: one look for ``edge annotate``'s video and the live view.

Marks are plain values copied from the tracker's objects (``marks_for``), so a frame can be drawn later in
another thread (the live view encodes in its HTTP threads) without touching the pipeline's state. Line
widths and text scale with the frame height, so the labels stay legible from 320x240 to 4K. Each emotion
has one saturated colour (also the timeline's), far from skin and sky tones, so a box is easy to see and,
in the tests, to find in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.pipeline import FrameResult

Box = tuple[float, float, float, float]

# RGB, by class name; a model with other labels gets FALLBACK_COLOURS in label order.
EMOTION_COLOURS = {
    "happy": (40, 200, 60),
    "neutral": (50, 130, 255),
    "sad": (170, 70, 255),
    "surprise": (255, 140, 0),
}
FALLBACK_COLOURS = ((0, 190, 190), (230, 60, 140), (140, 110, 40), (120, 200, 255))
TOO_SMALL_COLOUR = (150, 150, 150)
TOO_SMALL = "too small"
FONT = cv2.FONT_HERSHEY_SIMPLEX
REFERENCE_HEIGHT = 480  # frames of this height get 2 px lines and 0.55-scale text; others scale with height


@dataclass(frozen=True)
class FaceMark:
    box: Box
    text: str
    colour: tuple[int, int, int]  # RGB


def label_colours(labels: list[str]) -> list[tuple[int, int, int]]:
    """The RGB colour of each class, in label order."""
    return [
        EMOTION_COLOURS.get(label, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])
        for index, label in enumerate(labels)
    ]


def marks_for(result: FrameResult, labels: list[str]) -> list[FaceMark]:
    """One mark per face: ``#id emotion confidence`` in the smoothed emotion's colour, and the faces too
    small to classify in gray."""
    colours = label_colours(labels)
    marks = [
        FaceMark(
            tuple(track.box),
            f"#{track.face_id} {labels[track.label]} {track.scores[track.label]:.2f}",
            colours[track.label],
        )
        for track in result.tracks
    ]
    return marks + [FaceMark(tuple(box), TOO_SMALL, TOO_SMALL_COLOUR) for box in result.too_small]


def draw_marks(image: np.ndarray, marks: list[FaceMark]) -> np.ndarray:
    """Draws each mark on the BGR ``image`` in place: the box, and its text on a chip of the same colour
    above it (inside the box when the face touches the top edge). Returns the image."""
    scale = image.shape[0] / REFERENCE_HEIGHT
    thickness = max(2, round(2 * scale))
    font_scale, font_weight = 0.55 * max(scale, 0.6), max(1, round(scale))
    for mark in marks:
        bgr = mark.colour[::-1]
        x, y, w, h = (round(v) for v in mark.box)
        cv2.rectangle(image, (x, y), (x + w, y + h), bgr, thickness)
        (text_w, text_h), baseline = cv2.getTextSize(mark.text, FONT, font_scale, font_weight)
        pad = max(2, round(3 * scale))
        chip_h = text_h + baseline + 2 * pad
        top = y - chip_h if y - chip_h >= 0 else y + thickness
        left = min(max(x - thickness // 2, 0), max(image.shape[1] - text_w - 2 * pad, 0))
        cv2.rectangle(image, (left, top), (left + text_w + 2 * pad, top + chip_h), bgr, cv2.FILLED)
        cv2.putText(
            image,
            mark.text,
            (left + pad, top + pad + text_h),
            FONT,
            font_scale,
            text_colour(mark.colour),
            font_weight,
            cv2.LINE_AA,
        )
    return image


def text_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light chips, white on dark ones (BGR), by the chip's luminance."""
    red, green, blue = rgb
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)
