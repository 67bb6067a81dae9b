"""BatchNorm statistics re-measured on clean images replace the running averages of training."""

import numpy as np
import tf_keras as keras  # noqa: E402

from trainer.selection import recalibrate_batchnorm  # noqa: E402


def test_recalibration_gives_the_exact_mean_of_batch_statistics():
    norm = keras.layers.BatchNormalization(momentum=0.9)
    model = keras.Sequential([keras.Input((3,)), norm])
    images = np.random.default_rng(0).normal([10.0, -5.0, 0.5], [2.0, 1.0, 0.1], (12, 3)).astype(np.float32)
    recalibrate_batchnorm(model, images, batch_size=4)
    batches = images.reshape(3, 4, 3)
    assert np.allclose(norm.moving_mean.numpy(), batches.mean(axis=1).mean(axis=0), atol=1e-5)
    assert np.allclose(norm.moving_variance.numpy(), batches.var(axis=1).mean(axis=0), rtol=1e-3)
    assert norm.momentum == 0.9  # restored for training
    assert not np.allclose(images.mean(axis=0), 0)  # the test would be vacuous on centred data
