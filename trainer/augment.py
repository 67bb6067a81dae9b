"""Camera-robust training: each face passes, with some probability, through the degradations of a real
camera (``trainer.corruptions``) at random severities, then through the model's own preprocessing.

The ranges reach past the robustness benchmark's severest levels in both directions, so the benchmark is
not the training distribution's edge; they were set from what a webcam or a Pi camera gives (faces of
16-60 px, blur up to defocus, dark rooms and over-exposure), never from test scores.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from edge.preprocess import normalize_contrast
from trainer.corruptions import downscale, gamma, gaussian_blur, jpeg, low_contrast, sensor_noise

# In a camera's order: optics, then light, then the sensor, then the encoder. (corruption, lowest, highest)
CAMERA = (
    (gaussian_blur, 0.3, 2.8),
    (downscale, 14, 40),
    (low_contrast, 0.15, 1.0),
    (gamma, 0.4, 4.0),
    (sensor_noise, 2, 36),
    (jpeg, 6, 70),
)
EACH = 0.5  # a degraded face gets each degradation with this probability


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 2-D uint8 face through a random subset of ``CAMERA`` at random severities."""
    for corruption, lowest, highest in CAMERA:
        if rng.random() < EACH:
            image = corruption(image, rng.uniform(lowest, highest), rng)
    return image


def camera_batch(images: np.ndarray, seed: int, probability: float, preprocess: str) -> np.ndarray:
    """(N, S, S, 1) float pixels -> the same degraded with ``probability`` each, then preprocessed."""
    rng = np.random.default_rng(seed)
    faces = np.clip(np.rint(images[..., 0]), 0, 255).astype(np.uint8)
    out = [normalize_contrast(degrade(face, rng) if rng.random() < probability else face, preprocess) for face in faces]
    return np.stack(out)[..., None].astype(np.float32)


def camera_augmentation(probability: float, preprocess: str):
    """A ``tf.data`` map function running ``camera_batch`` on a batch of images; its seed comes from TF's
    random stream, so a seeded run degrades the same faces the same way."""

    def transform(images: tf.Tensor, targets: tf.Tensor):
        seed = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64)
        out = tf.numpy_function(
            lambda x, s: camera_batch(x, int(s), probability, preprocess), [images, seed], tf.float32
        )
        out.set_shape(images.shape)
        return out, targets

    return transform
