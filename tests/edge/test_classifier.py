"""The int8 model contract, exercised with the stand-in model."""

import json

import cv2
import numpy as np
import pytest

from common.errors import UserError
from edge.classifier import EmotionClassifier, quantize, read_labels, square_crop
from edge.preprocess import shrink
from tests.support import LABELS


def test_probabilities_for_a_batch_of_crops_of_any_size(emotion_model):
    classifier = EmotionClassifier(emotion_model)
    assert classifier.labels == LABELS
    assert (classifier.height, classifier.width, classifier.channels) == (48, 48, 1)
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, size, dtype=np.uint8) for size in [(60, 60), (120, 120), (31, 31)]]
    probabilities = classifier.classify(crops)
    assert probabilities.shape == (3, 4)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=0.03)
    assert classifier.classify([]).shape == (0, 4)
    one = classifier.classify(crops[:1])
    assert np.allclose(one[0], probabilities[0], atol=1e-6)


def test_missing_or_bad_labels_file_is_one_clear_error(tmp_path, emotion_model):
    copy = tmp_path / "m.tflite"
    copy.write_bytes(emotion_model.read_bytes())
    with pytest.raises(UserError, match="m.json: labels file not found"):
        read_labels(copy)
    copy.with_suffix(".json").write_text(json.dumps({"classes": LABELS}))
    with pytest.raises(UserError, match='m.json: expected JSON with a "labels" list'):
        EmotionClassifier(copy)
    for labels in ([], [1, 2, 3, 4], "happy"):
        copy.with_suffix(".json").write_text(json.dumps({"labels": labels}))
        with pytest.raises(UserError, match='m.json: "labels" must be a non-empty list of strings'):
            EmotionClassifier(copy)
    copy.with_suffix(".json").write_text(json.dumps({"labels": LABELS[:3]}))
    with pytest.raises(UserError, match="4 outputs but its labels file lists 3"):
        EmotionClassifier(copy)


def test_quantize_uses_the_tensor_scale_zero_point_and_dtype():
    int8 = {"dtype": np.int8, "quantization": (1.0, -128)}
    assert quantize(np.array([0.0, 255.0, 300.0]), int8).tolist() == [-128, 127, 127]
    uint8 = {"dtype": np.uint8, "quantization": (2.0, 0)}
    assert quantize(np.array([10.0]), uint8).tolist() == [5]


def test_square_crop_grows_the_box_and_clips_to_the_frame():
    gray = np.zeros((480, 640), np.uint8)
    assert square_crop(gray, (100, 100, 50, 80), 0.25).shape == (120, 120)
    assert square_crop(gray, (600, 440, 80, 80), 0.25).shape == (480 - 420, 640 - 580)  # centre (640, 480)
    assert square_crop(gray, (700, 500, 10, 10), 0.0) is None


def test_shrink_is_a_box_filter_in_effect():
    """The fast two-step downscale stays within a grey level of OpenCV's box filter on a face-like crop."""
    rng = np.random.default_rng(4)
    crop = cv2.GaussianBlur(rng.integers(0, 256, (157, 157), dtype=np.uint8), (0, 0), 3)
    fast, area = shrink(crop, 48, 48), cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
    assert fast.shape == (48, 48) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - area.astype(int)).mean() < 1.0
    small = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    assert shrink(small, 48, 48).shape == (48, 48)  # upscaling takes the plain path


def test_raw_pixel_input_skips_the_float_round_trip_with_the_same_result(emotion_model):
    """uint8 input with scale 1 and zero point 0 takes the resized crop as it is; the general path
    (float, rescale, quantize) must give the very same tensor."""
    fast = EmotionClassifier(emotion_model)
    general = EmotionClassifier(emotion_model)
    general._raw_pixels = False
    assert fast._raw_pixels
    crop = np.random.default_rng(5).integers(0, 256, (150, 150), dtype=np.uint8)
    assert np.array_equal(fast._prepare(crop), general._prepare(crop))


def test_a_model_whose_input_is_not_an_image_batch_is_one_clear_error(tmp_path):
    """A peer or a configured model with, say, a (1, 48, 48) input: named, not a traceback."""
    import tensorflow as tf
    import tf_keras as keras

    import trainer  # noqa: F401  (selects Keras 2 before TensorFlow loads)

    model = keras.Sequential(
        [
            keras.Input((48, 48), batch_size=1),
            keras.layers.Flatten(),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )
    path = tmp_path / "flat.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    path.with_suffix(".json").write_text(json.dumps({"labels": LABELS}))
    with pytest.raises(UserError, match=r"flat.tflite: input shape \[1, 48, 48\] is not an image batch"):
        EmotionClassifier(path)
