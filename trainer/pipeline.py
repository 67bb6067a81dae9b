"""Images in memory and the tf.data pipelines that feed training and evaluation.

FER-sized datasets (25k crops of 48x48) fit in a few tens of MB, so every split is decoded once into a
uint8 array; augmentation then runs batched, in the graph, which keeps 2 CPU cores busy on the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tqdm import tqdm

from common.errors import UserError
from edge.preprocess import model_input, normalize_contrast
from trainer.augment import camera_augmentation
from trainer.config import TrainConfig, TrainerConfig
from trainer.dataset import split_files
from trainer.votes import vote_targets


@dataclass
class Split:
    images: np.ndarray  # (N, S, S, 1) uint8, model inputs: the files through load_split's preprocess
    labels: np.ndarray  # (N,) int
    targets: np.ndarray | None = None  # (N, classes) soft targets (train.targets: votes); None: one-hot labels


def read_gray(path: Path, size: int, preprocess: str = "none") -> np.ndarray:
    """One image as the model's SxS gray uint8 input, through the same ``edge.preprocess.model_input`` the
    daemon applies to a face crop; an unreadable file is a user error naming it."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"{path}: cannot read image ({exc.strerror})") from None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None  # imdecode asserts on empty input
    if image is None:
        raise UserError(f"{path}: cannot decode image (run 'trainer eda' to exclude broken files)")
    return model_input(image, size, size, preprocess)


def load_split(
    settings: TrainerConfig, split: str, size: int | None = None, preprocess: str | None = None, targets: bool = False
) -> Split:
    """A split as model inputs: ``preprocess`` defaults to the model's (``model.preprocess``); training
    passes ``none`` and preprocesses after augmenting. With ``targets`` and ``train.targets: votes``, the
    split carries the annotators' vote shares."""
    size = size or settings.model.input_size
    method = settings.model.preprocess if preprocess is None else preprocess
    paths, labels = split_files(settings.data_dir, split, settings.classes, settings.manifest)
    images = np.stack(
        [read_gray(p, size, method) for p in tqdm(paths, desc=f"load {split}", unit="img", leave=False, disable=None)]
    )
    soft = (
        vote_targets(settings.data_dir, paths, settings.classes)
        if targets and settings.train.targets == "votes"
        else None
    )
    return Split(images[..., None], np.asarray(labels, dtype=np.int64), soft)


def preprocessed(images: np.ndarray, method: str) -> np.ndarray:
    """(N, S, S, 1) uint8 images at the input size through the model's contrast normalisation."""
    if method == "none":
        return images
    return np.stack([normalize_contrast(image[..., 0], method) for image in images])[..., None]


def augmenter(seed: int, strength: float) -> keras.Sequential:
    """Face-safe augmentation: mirror, then rotation/shift/zoom/brightness/contrast scaled by ``strength``
    (1 = up to 15 degrees, 10% shift, 15% zoom). No vertical flips: upside-down faces are not the task."""
    steps = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if strength > 0:
        steps += [
            keras.layers.RandomRotation(0.04 * strength, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomTranslation(0.1 * strength, 0.1 * strength, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom((-0.15 * strength, 0.1 * strength), fill_mode="reflect", seed=seed + 3),
            keras.layers.RandomContrast(0.3 * strength, seed=seed + 4),
            keras.layers.RandomBrightness(0.2 * strength, value_range=(0, 255), seed=seed + 5),
        ]
    return keras.Sequential(steps, name="augment")


def random_erasing(images: tf.Tensor, probability: float = 0.5, max_fraction: float = 0.3) -> tf.Tensor:
    """Blank one random rectangle per image (occlusion by hands, glasses, masks)."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    h = tf.cast(tf.cast(height, tf.float32) * tf.random.uniform([batch], 0.1, max_fraction), tf.int32)
    w = tf.cast(tf.cast(width, tf.float32) * tf.random.uniform([batch], 0.1, max_fraction), tf.int32)
    y0 = tf.cast(tf.random.uniform([batch]) * tf.cast(height - h, tf.float32), tf.int32)
    x0 = tf.cast(tf.random.uniform([batch]) * tf.cast(width - w, tf.float32), tf.int32)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (
        (rows >= y0[:, None, None])
        & (rows < (y0 + h)[:, None, None])
        & (cols >= x0[:, None, None])
        & (cols < (x0 + w)[:, None, None])
    )
    chosen = tf.random.uniform([batch, 1, 1]) < probability
    fill = tf.random.uniform([batch, 1, 1, 1], 0, 255)
    return tf.where((inside & chosen)[..., None], fill, images)


def training_dataset(split: Split, num_classes: int, settings: TrainConfig, preprocess: str) -> tf.data.Dataset:
    """Shuffled, augmented batches of (float pixels 0..255, targets): ``split`` holds raw faces, which are
    augmented, degraded as a camera would (``train.camera_degradation``), then ``preprocess``-ed as the
    model's input is everywhere else. Targets are the split's soft targets, else one-hot labels."""
    seed, batch_size, strength = settings.seed, settings.batch_size, settings.augment
    augment = augmenter(seed, strength)
    targets = split.targets if split.targets is not None else np.eye(num_classes, dtype=np.float32)[split.labels]
    dataset = tf.data.Dataset.from_tensor_slices((split.images, targets.astype(np.float32)))
    dataset = dataset.shuffle(len(split.labels), seed=seed, reshuffle_each_iteration=True).batch(
        batch_size, drop_remainder=True
    )

    def transform(images, labels):
        images = tf.clip_by_value(augment(tf.cast(images, tf.float32), training=True), 0.0, 255.0)
        return random_erasing(images, probability=0.5 * strength), labels

    dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    if settings.camera_degradation > 0 or preprocess != "none":
        dataset = dataset.map(
            camera_augmentation(settings.camera_degradation, preprocess), num_parallel_calls=tf.data.AUTOTUNE
        )
    if settings.mixup > 0:
        dataset = dataset.map(lambda x, y: mix(x, y, settings.mixup), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def mix(images: tf.Tensor, labels: tf.Tensor, alpha: float):
    """Mixup: convex combinations of pairs within the batch, labels mixed alike."""
    gamma_a = tf.random.gamma([1], alpha)
    gamma_b = tf.random.gamma([1], alpha)
    lam = gamma_a / (gamma_a + gamma_b)
    order = tf.random.shuffle(tf.range(tf.shape(images)[0]))
    images = lam * images + (1 - lam) * tf.gather(images, order)
    labels = lam * labels + (1 - lam) * tf.gather(labels, order)
    return images, labels


def class_weights(labels: Sequence[int], num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights normalised to mean 1, so rare classes count as much as common ones."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    weights = counts.sum() / (num_classes * np.maximum(counts, 1))
    return {index: float(w) for index, w in enumerate(weights)}
