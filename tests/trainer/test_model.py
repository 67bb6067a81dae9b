"""The exported graph's flip averaging: mirror-invariant, and the plain model on a symmetric face."""

import numpy as np
import pytest
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402

from trainer.config import ModelConfig  # noqa: E402
from trainer.model import build_model, with_flip_average  # noqa: E402


@pytest.fixture(scope="module")
def models():
    """A small conv net shaped like ours at the end (features, global average pool, dropout, softmax
    classifier), with lopsided random filters so its scores change visibly when the face is mirrored."""
    inputs = keras.Input((48, 48, 1))
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(8, 5, strides=4, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    model = keras.Model(inputs, layers.Dense(4, activation="softmax", name="scores")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model, with_flip_average(model)


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (1, 48, 48, 1)).astype(np.float32)


def test_plain_model_is_mirror_sensitive(models):
    model, _ = models
    assert not np.allclose(model.predict(face(1), verbose=0), model.predict(face(1)[:, :, ::-1], verbose=0), atol=1e-3)


def test_flip_average_is_mirror_invariant(models):
    _, averaged = models
    scores, mirrored = averaged.predict(face(1), verbose=0), averaged.predict(face(1)[:, :, ::-1], verbose=0)
    assert scores.shape == (1, 4) and np.isclose(scores.sum(), 1, atol=1e-5)
    assert np.allclose(scores, mirrored, atol=1e-5)


def test_flip_average_of_a_symmetric_face_is_the_plain_model(models):
    model, averaged = models
    half = face(2)[:, :, :24]
    symmetric = np.concatenate([half, half[:, :, ::-1]], axis=2)
    assert np.allclose(averaged.predict(symmetric, verbose=0), model.predict(symmetric, verbose=0), atol=1e-5)


def test_flip_average_wraps_the_real_architecture():
    model = build_model(ModelConfig(alpha=0.35, last_channels=64), 4)
    averaged = with_flip_average(model)
    assert averaged.input_shape == (1, 48, 48, 1) and averaged.output_shape == (1, 4)
    scores = averaged.predict(face(3), verbose=0)
    assert np.isclose(scores.sum(), 1, atol=1e-5)
    assert np.allclose(averaged.predict(face(3)[:, :, ::-1], verbose=0), scores, atol=1e-5)  # a mirror scores the same


def test_flip_averaged_int8_graph_keeps_the_edge_tpu_shape_rules_and_one_set_of_weights(tmp_path):
    """The face and its mirror run as two batch-1 passes over shared weights: no computed tensor has a
    batch of two or a 2-D FULLY_CONNECTED output (which the Edge TPU compiler leaves to the CPU), and the
    file is not twice the single-pass one."""
    from trainer.export import convert_int8
    from trainer.model import batch_one
    from trainer.tflite import edgetpu_shape_problems

    model = build_model(ModelConfig(alpha=0.35, last_channels=64), 4)
    calibration = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype(np.float32)
    averaged, single = tmp_path / "averaged.tflite", tmp_path / "single.tflite"
    averaged.write_bytes(convert_int8(with_flip_average(model), calibration))
    single.write_bytes(convert_int8(batch_one(model), calibration))
    assert edgetpu_shape_problems(averaged) == []
    assert averaged.stat().st_size < 1.3 * single.stat().st_size


def test_the_shape_check_names_a_batch_of_two(tmp_path):
    """How the first flip-averaged graphs ran: the pair as one batch of two."""
    from trainer.export import convert_int8
    from trainer.tflite import edgetpu_shape_problems

    pair = keras.Sequential([keras.Input((48, 48, 1), batch_size=2), layers.Conv2D(4, 3)])
    path = tmp_path / "pair.tflite"
    path.write_bytes(convert_int8(pair, np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype(np.float32)))
    assert any("[2, 46, 46, 4]" in problem for problem in edgetpu_shape_problems(path))


def test_resnet_teacher_keeps_a_48px_face_whole_through_its_first_stage():
    """No stride-2 stem: a 48x48 face stays 48x48 through stage one, then halves at each later stage."""
    model = build_model(ModelConfig(architecture="resnet", alpha=0.25), 4)
    sums = [layer.output.shape[1] for layer in model.layers if isinstance(layer, layers.Add)]
    assert sums == [48, 48, 24, 24, 12, 12, 6, 6]
    scores = model(face(0)).numpy()
    assert scores.shape == (1, 4) and np.isclose(scores.sum(), 1.0)
