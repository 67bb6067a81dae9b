"""Knowledge distillation: soft labels of larger float teachers mixed into the training targets.

Why in the input pipeline and not in a custom train step: the student then trains with plain Keras ``fit``,
so QAT, selection, early stopping and ``--resume`` work unchanged; and every teacher scores exactly the
augmented batch the student sees ("consistent" teaching, Beyer et al. 2022, "Knowledge distillation:
A good teacher is patient and consistent").
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from trainer.config import DistillConfig


def soft_targets(teachers: list[keras.Model], settings: DistillConfig):
    """A ``tf.data`` map function: (images, one-hot labels) -> (images, mixed targets).

    The target is ``(1 - weight) * label + weight * teacher``, where ``teacher`` is the mean of the
    teachers' probabilities (with ``flip_average``, over each image and its mirror image too, as the
    teachers were selected), sharpened or softened by ``temperature`` (1 keeps them as they are).
    """
    weight, temperature = settings.weight, settings.temperature

    def mix(images: tf.Tensor, labels: tf.Tensor):
        views = [images, tf.reverse(images, axis=[2])] if settings.flip_average else [images]
        probs = tf.add_n([teacher(view, training=False) for teacher in teachers for view in views]) / (
            len(teachers) * len(views)
        )
        if temperature != 1.0:
            probs = tf.nn.softmax(tf.math.log(probs + 1e-7) / temperature)
        return images, (1.0 - weight) * labels + weight * probs

    return mix
