"""How a gray face crop becomes the model's input: the one definition that training, export calibration,
``trainer evaluate``, ``edge bench`` and the daemon all call, and that the model contract names
(``emotion_int8.json`` -> ``input.preprocess``) so a third party can follow it with OpenCV alone.

Contrast normalisation runs on the crop at its own size, before the resize: a camera's face crop is often
blurrier and flatter than a dataset face, and equalising it first gives the model the contrast it was
trained on whatever the lighting.
"""

from __future__ import annotations

from typing import Literal, get_args

import cv2
import numpy as np

Preprocess = Literal["none", "equalize_hist", "clahe"]
PREPROCESSES: tuple[str, ...] = get_args(Preprocess)

CLAHE_CLIP_LIMIT, CLAHE_TILES = 2.0, (8, 8)


def normalize_contrast(gray: np.ndarray, method: str) -> np.ndarray:
    """``none``: the crop as it is; ``equalize_hist``: ``cv2.equalizeHist``; ``clahe``:
    ``cv2.createCLAHE(2.0, (8, 8)).apply``. ``gray`` is a 2-D uint8 image."""
    if method == "none":
        return gray
    if method == "equalize_hist":
        return cv2.equalizeHist(gray)
    if method == "clahe":
        return cv2.createCLAHE(CLAHE_CLIP_LIMIT, CLAHE_TILES).apply(gray)
    raise ValueError(f"unknown preprocess {method!r} (expected one of {', '.join(PREPROCESSES)})")


def shrink(crop: np.ndarray, width: int, height: int) -> np.ndarray:
    """The crop (gray, or a detector's BGR region) at the model's input size. Down: a box filter (INTER_AREA)
    is the right way, but OpenCV's is slow at non-integer factors (a tenth of the int8 model's invoke per
    100-260 px face crop; 1-2 ms, a third of a BlazeFace run, for a 640x480 frame), so an image over twice the
    target size first goes bilinearly to exactly twice it, then through an exact 2x2 box average: several
    times faster, and the same prediction for 99% of faces (experiments/resize_check.py). Up (a face smaller
    than the input): bilinear."""
    if crop.shape[:2] == (height, width):
        return crop
    if crop.shape[0] > 2 * height and crop.shape[1] > 2 * width:
        crop = cv2.resize(crop, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    upscale = crop.shape[0] < height or crop.shape[1] < width
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR if upscale else cv2.INTER_AREA)


def model_input(crop: np.ndarray, width: int, height: int, method: str) -> np.ndarray:
    """A 2-D uint8 gray crop of any size -> the (height, width) uint8 image the model takes."""
    return shrink(normalize_contrast(np.ascontiguousarray(crop), method), width, height)
