"""Grad-CAM: which pixels drive a Keras model's decision, so a person can check it looks at the face."""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras


def last_conv_layer(model: keras.Model) -> keras.layers.Layer:
    """The last layer with a spatial (4-D) output: the finest map that still knows the decision."""
    for layer in reversed(model.layers):
        if len(layer.output.shape) == 4:
            return layer
    raise ValueError(f"{model.name}: no convolutional feature map to explain")


def grad_cam(model: keras.Model, images: np.ndarray, class_indices: np.ndarray) -> np.ndarray:
    """Heatmaps in 0..1 at the input resolution, one per image, for the given class of each."""
    feature_layer = last_conv_layer(model)
    probe = keras.Model(model.inputs, [feature_layer.output, model.output])
    with tf.GradientTape() as tape:
        features, probs = probe(tf.convert_to_tensor(images, tf.float32), training=False)
        chosen = tf.gather(probs, class_indices, axis=1, batch_dims=1)
    grads = tape.gradient(chosen, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    size = images.shape[1:3][::-1]
    return np.stack([cv2.resize(cam / (cam.max() + 1e-8), size, interpolation=cv2.INTER_CUBIC) for cam in cams])


def overlay(gray: np.ndarray, heatmap: np.ndarray, upscale: int = 2) -> np.ndarray:
    """An RGB picture of the face with the heatmap blended over it (jet colour map)."""
    face = cv2.cvtColor(gray.squeeze().astype(np.uint8), cv2.COLOR_GRAY2RGB)
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(heatmap, 0, 1)), cv2.COLORMAP_JET)[..., ::-1]
    blended = cv2.addWeighted(face, 0.55, heat, 0.45, 0)
    return cv2.resize(blended, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_NEAREST)
