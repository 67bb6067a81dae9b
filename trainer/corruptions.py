"""Camera degradations of a gray face: what a real camera gives and FER2013's crops do not.

One primitive per degradation, each ``(image, severity, rng) -> image`` on 2-D uint8 arrays, so the
robustness benchmark (fixed severities, ``BENCHMARK``) and the training augmentation (random severities,
``trainer.augment``) degrade faces in exactly the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Corruption = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Defocus and motion softness: a Gaussian of ``sigma`` pixels."""
    return cv2.GaussianBlur(image, (0, 0), float(sigma))


def downscale(image: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """A face seen at ``size`` pixels (area filter down) and blown back up (bilinear), as a small face in a
    wide frame reaches the model."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (int(round(size)), int(round(size))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def low_contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Flat lighting or haze: every pixel pulled towards the image mean by ``factor``."""
    mean = float(image.mean())
    return to_uint8(mean + (image.astype(np.float32) - mean) * factor)


def gamma(image: np.ndarray, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """A dark room (``exponent`` > 1) or an over-bright one (< 1), on pixel values scaled to [0, 1]."""
    return to_uint8(255.0 * (image.astype(np.float32) / 255.0) ** exponent)


def sensor_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian sensor noise of ``sigma`` grey levels."""
    return to_uint8(image.astype(np.float32) + rng.normal(0.0, sigma, image.shape))


def jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """A stream's compression: JPEG at ``quality``."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


# The robustness benchmark (issue: ImageNet-C's idea for faces): 6 corruptions x 3 severities, applied to the
# 48x48 test face before the model's own preprocessing and resize.
BENCHMARK: tuple[tuple[str, Corruption, tuple[float, float, float]], ...] = (
    ("blur", gaussian_blur, (1.0, 1.5, 2.5)),
    ("downscale", downscale, (32, 24, 16)),
    ("contrast", low_contrast, (0.5, 0.35, 0.2)),
    ("dark", gamma, (1.8, 2.5, 3.5)),
    ("noise", sensor_noise, (8, 16, 32)),
    ("jpeg", jpeg, (30, 15, 8)),
)
