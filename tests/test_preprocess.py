"""One preprocessing for trainer and edge: the same crop gives byte-identical model inputs whichever side
prepares it, for every method the contract can name; and the contract's method is the one the daemon uses."""

import json
import shutil

import cv2
import numpy as np
import pytest

from common.errors import UserError
from edge.classifier import EmotionClassifier, read_float_twin, read_preprocess
from edge.preprocess import PREPROCESSES, model_input, normalize_contrast
from tests.support import MODELS
from trainer.augment import camera_batch
from trainer.pipeline import preprocessed, read_gray


def contract_copy(tmp_path, method: str):
    """The shipped int8 model with a contract naming ``method``."""
    model = tmp_path / method / "emotion_int8.tflite"
    model.parent.mkdir()
    shutil.copy(MODELS / "emotion_int8.tflite", model)
    contract = json.loads((MODELS / "emotion_int8.json").read_text())
    contract["input"]["preprocess"] = method
    model.with_suffix(".json").write_text(json.dumps(contract))
    return model


def crops():
    """Face-like gray crops of the sizes a camera gives: smaller than, equal to and far larger than 48 px."""
    rng = np.random.default_rng(7)
    sample = cv2.imread(str(MODELS.parent / "samples" / "astronaut_1.jpg"), cv2.IMREAD_GRAYSCALE)
    out = [rng.integers(40, 200, (size, size), dtype=np.uint8) for size in (30, 48, 61, 100)]
    return out + [sample[:300, :300], cv2.resize(sample, (48, 48), interpolation=cv2.INTER_AREA) // 2 + 60]


@pytest.mark.parametrize("method", PREPROCESSES)
def test_trainer_and_edge_give_byte_identical_model_inputs(tmp_path, method):
    classifier = EmotionClassifier(contract_copy(tmp_path, method))
    assert classifier.preprocess == method
    for index, crop in enumerate(crops()):
        path = tmp_path / f"crop{index}.png"  # lossless: the trainer reads the very same pixels from a file
        cv2.imwrite(str(path), crop)
        trainer_side = read_gray(path, 48, method)
        edge_side = classifier._prepare(crop)[..., 0]
        assert trainer_side.dtype == edge_side.dtype == np.uint8
        assert trainer_side.tobytes() == edge_side.tobytes(), (method, crop.shape)


@pytest.mark.parametrize("method", PREPROCESSES)
def test_training_batches_are_preprocessed_as_the_device_does(method):
    """With no degradation drawn, the training pipeline's numpy stage gives exactly ``model_input``."""
    faces = np.stack([crop for crop in crops() if crop.shape == (48, 48)])[..., None]
    trained = camera_batch(faces.astype(np.float32), seed=1, probability=0.0, preprocess=method)
    device = np.stack([model_input(face[..., 0], 48, 48, method) for face in faces])
    assert np.array_equal(trained[..., 0].astype(np.uint8), device)
    assert np.array_equal(preprocessed(faces, method)[..., 0], device)


def test_equalisation_spreads_a_flat_crop():
    flat = np.random.default_rng(0).integers(100, 140, (64, 64), dtype=np.uint8)
    for method in ("equalize_hist", "clahe"):
        assert normalize_contrast(flat, method).std() > 2 * flat.std(), method
    assert normalize_contrast(flat, "none") is flat


def test_the_contract_names_the_preprocess_and_a_bad_one_is_one_line(tmp_path):
    model = contract_copy(tmp_path, "clahe")
    assert read_preprocess(model) == "clahe"
    contract = json.loads(model.with_suffix(".json").read_text())
    contract["input"]["preprocess"] = "sharpen"
    model.with_suffix(".json").write_text(json.dumps(contract))
    with pytest.raises(UserError, match="input.preprocess 'sharpen'"):
        EmotionClassifier(model)
    del contract["input"]["preprocess"]  # models exported before the key existed: resize only
    model.with_suffix(".json").write_text(json.dumps(contract))
    assert read_preprocess(model) == "none"


def test_the_float_twin_follows_its_int8_contract(tmp_path):
    model = contract_copy(tmp_path, "equalize_hist")
    shutil.copy(MODELS / "emotion_float.tflite", model.parent / "emotion_float.tflite")
    twin = EmotionClassifier(model.parent / "emotion_float.tflite")
    assert (
        twin.preprocess == "equalize_hist"
        and twin.labels == json.loads(model.with_suffix(".json").read_text())["labels"]
    )


def test_the_contract_names_the_float_twin_edge_bench_compares(tmp_path):
    """One reader of ``float_twin`` (edge.classifier), which ``edge bench`` uses for its "float" row."""
    model = contract_copy(tmp_path, "none")
    assert read_float_twin(model) is None  # named, but not there
    shutil.copy(MODELS / "emotion_float.tflite", model.parent / "emotion_float.tflite")
    assert read_float_twin(model) == model.parent / "emotion_float.tflite"
    assert read_float_twin(model.parent / "emotion_float.tflite") is None  # the twin has no twin of its own
