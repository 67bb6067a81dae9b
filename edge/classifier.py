"""Emotion classification of face crops with the int8 model, following the model contract:

``emotion_int8.tflite`` takes raw gray pixels 0..255 at its own input size (H, W, C read from the input
tensor; C of 3 gets the gray crop replicated); ``emotion_int8.json`` beside it lists the ``labels`` in
output order. The caller only resizes and quantizes with the input tensor's scale and zero point, and
dequantizes the output with the output tensor's: the model itself does any normalisation, so training and
device can never disagree about it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from common.errors import UserError
from edge.preprocess import PREPROCESSES, model_input
from edge.runtime import load_interpreter

log = logging.getLogger(__name__)


def contract_file(model: Path) -> Path:
    """The model's contract: the JSON file beside it, or for a float twin (which has none of its own) the
    int8 contract that names it as ``float_twin``, so the twin is read with the same labels and preprocess."""
    model = Path(model)
    own = model.with_suffix(".json")
    if own.is_file():
        return own
    for candidate in sorted(model.parent.glob("*.json")):
        try:
            if json.loads(candidate.read_text(encoding="utf-8")).get("float_twin") == model.name:
                return candidate
        except (OSError, ValueError, AttributeError):
            continue
    return own


def read_contract(model: Path) -> dict:
    """The model contract (``contract_file``)."""
    labels_file = contract_file(model)
    try:
        return json.loads(labels_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{labels_file}: labels file not found (it must sit beside the model)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f'{labels_file}: expected JSON with a "labels" list ({exc!r})') from None


def read_labels(model: Path) -> list[str]:
    """The class names from the model's contract."""
    labels_file = contract_file(model)
    try:
        labels = read_contract(model)["labels"]
    except (KeyError, TypeError) as exc:
        raise UserError(f'{labels_file}: expected JSON with a "labels" list ({exc!r})') from None
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise UserError(f'{labels_file}: "labels" must be a non-empty list of strings')
    return labels


def read_float_twin(model: Path) -> Path | None:
    """The float model the contract names as ``float_twin`` (what the int8 model was quantized from, for
    ``edge bench`` to compare); None when it names none, the file is missing, or ``model`` is that twin."""
    name = read_contract(model).get("float_twin")
    twin = Path(model).parent / name if isinstance(name, str) else None
    return twin if twin is not None and twin.is_file() and twin.name != Path(model).name else None


def read_preprocess(model: Path) -> str:
    """The contract's ``input.preprocess`` (edge.preprocess); a model without a contract, or a contract
    without the key (models exported before it was recorded), has its crop only resized (``none``)."""
    path = contract_file(model)
    if not path.is_file():
        return "none"
    section = read_contract(model).get("input")
    method = section.get("preprocess", "none") if isinstance(section, dict) else "none"
    if method not in PREPROCESSES:
        raise UserError(f"{path}: input.preprocess {method!r} is not one of {', '.join(PREPROCESSES)}")
    return method


def square_crop(gray: np.ndarray, box: tuple[float, float, float, float], margin: float) -> np.ndarray | None:
    """The face as a square gray crop: the detector box grown by ``margin`` of its size on every side (the
    classifier was trained on crops that include the whole face outline), clipped to the frame."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    centre_x, centre_y = x + w / 2, y + h / 2
    x1, y1 = max(int(round(centre_x - side / 2)), 0), max(int(round(centre_y - side / 2)), 0)
    x2 = min(int(round(centre_x + side / 2)), gray.shape[1])
    y2 = min(int(round(centre_y + side / 2)), gray.shape[0])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return gray[y1:y2, x1:x2]


class EmotionClassifier:
    """The shipped model by its contract; ``labels`` and ``pixel_range`` let ``edge bench`` run any other
    emotion model (its float twin, a peer) through the very same crop -> resize -> quantize -> invoke path.

    On the CPU LiteRT's default op resolver applies XNNPACK to both the int8 and the float graph; that is the
    fastest configuration measured (docs/benchmark.md): the built-in kernels without it are ~5x slower for
    int8, and a second thread costs more than it gains on a model this small.
    """

    def __init__(
        self,
        model: Path,
        threads: int = 1,
        accelerator: str = "cpu",
        fallback_to_cpu: bool = False,
        *,
        labels: list[str] | None = None,
        pixel_range: tuple[float, float] = (0.0, 255.0),
        preprocess: str | None = None,
    ):
        self.interpreter = load_interpreter(model, threads, accelerator, fallback_to_cpu)
        self.labels = labels or read_labels(model)
        # The contract's contrast normalisation (edge.preprocess), unless the caller states it (a float twin
        # follows its int8 model's contract).
        self.preprocess = preprocess or read_preprocess(model)
        # Raw 0..255 gray maps linearly onto the model's expected input range (the contract's is 0..255).
        self._offset, self._gain = pixel_range[0], (pixel_range[1] - pixel_range[0]) / 255
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        shape = [int(v) for v in self._input["shape"]]
        if len(shape) != 4 or shape[3] not in (1, 3):
            raise UserError(f"{model}: input shape {shape} is not an image batch (1, height, width, 1 or 3 channels)")
        _, self.height, self.width, self.channels = shape
        # The contract's int8 input (uint8, scale 1, zero point 0, one channel) takes the resized crop as it is.
        self._raw_pixels = (
            self._input["dtype"] == np.uint8
            and tuple(self._input["quantization"]) == (1.0, 0)
            and pixel_range == (0.0, 255.0)
            and self.channels == 1
        )
        classes = int(self._output["shape"][-1])
        if classes != len(self.labels):
            raise UserError(f"{model}: the model has {classes} outputs but its labels file lists {len(self.labels)}")
        self._batch = 1
        # A model exported with a free batch dimension (-1) takes all faces of a frame in one invoke.
        self._batchable = int(self._input.get("shape_signature", self._input["shape"])[0]) == -1

    def classify(self, crops: list[np.ndarray]) -> np.ndarray:
        """(len(crops), classes) probabilities for gray crops of any size, in one invoke when the model
        accepts a batch dimension, else one invoke per face."""
        if not crops:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        batch = np.stack([self._prepare(crop) for crop in crops])
        if self._batchable or len(crops) == 1:
            return self._invoke(batch)
        return np.concatenate([self._invoke(batch[i : i + 1]) for i in range(len(crops))])

    def _prepare(self, crop: np.ndarray) -> np.ndarray:
        pixels = model_input(crop, self.width, self.height, self.preprocess)
        if self._raw_pixels:
            return pixels[..., None]
        pixels = pixels.astype(np.float32) * self._gain + self._offset
        pixels = np.repeat(pixels[..., None], self.channels, axis=-1)
        return quantize(pixels, self._input)

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] != self._batch:
            self.interpreter.resize_tensor_input(self._input["index"], batch.shape)
            self.interpreter.allocate_tensors()
            self._batch = batch.shape[0]
        self.interpreter.set_tensor(self._input["index"], batch)
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self._output["index"]), self._output)


def quantize(values: np.ndarray, tensor: dict) -> np.ndarray:
    """Real values -> the tensor's dtype with its own scale and zero point (a float tensor passes through)."""
    dtype = tensor["dtype"]
    scale, zero_point = tensor["quantization"]
    if not np.issubdtype(dtype, np.integer):
        return values.astype(dtype)
    limits = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), limits.min, limits.max).astype(dtype)


def dequantize(values: np.ndarray, tensor: dict) -> np.ndarray:
    scale, zero_point = tensor["quantization"]
    if not np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale
