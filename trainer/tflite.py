"""Run and inspect TFLite files with the LiteRT interpreter, the same runtime the edge device uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from ai_edge_litert.tools import flatbuffer_utils
from tqdm import tqdm

from edge.classifier import EmotionClassifier

INT8_INPUT_DESCRIPTION = {
    "dtype": "uint8",
    "pixels": "grayscale 0..255 of the face crop through 'preprocess' (edge/preprocess.py: none, or cv2.equalizeHist "
    "or CLAHE(2.0, 8x8) on the gray crop), then resized to height x width (area filter down, bilinear up)",
    "layout": "NHWC, static batch of 1",
    "quantization": "use the input tensor's own scale and zero point",
}


def predict_tflite(path: Path, gray: np.ndarray, labels: Sequence[str], preprocess: str | None = None) -> np.ndarray:
    """Class probabilities for raw gray face images (N, H, W), through the edge daemon's own classifier, so
    a score measured here is the score the device gets (same preprocess, resize, quantization and
    interpreter). ``preprocess`` None follows the file's contract; a file being exported has none yet."""
    classifier = EmotionClassifier(path, threads=2, labels=list(labels), preprocess=preprocess)
    return np.concatenate(
        [
            classifier.classify([image])
            for image in tqdm(gray, desc=f"run {path.name}", unit="img", leave=False, mininterval=1, disable=None)
        ]
    )


def tflite_ops(path: Path) -> list[str]:
    """Distinct builtin operator names of a model, in first-use order."""
    interpreter = Interpreter(model_path=str(path))
    return list(dict.fromkeys(op["op_name"] for op in interpreter._get_ops_details()))


def tflite_tensor_dtypes(path: Path) -> list[type]:
    """Every tensor's dtype (by index: an exported file carries no tensor names, see ``strip_names``)."""
    return [detail["dtype"] for detail in Interpreter(model_path=str(path)).get_tensor_details()]


def edgetpu_shape_problems(path: Path) -> list[str]:
    """Where the computed tensors break the Edge TPU compiler's shape rules (coral.ai/docs/edgetpu/models-intro):
    only the three innermost dimensions of a tensor may exceed 1 (so no batch of two), and a FULLY_CONNECTED
    output is one-dimensional. The compiler runs everything from the first op it cannot map on the CPU, so
    one such tensor early in the graph keeps nearly the whole model off the TPU. Weights are exempt."""
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    ops, tensors = interpreter._get_ops_details(), {d["index"]: d for d in interpreter.get_tensor_details()}
    problems = []
    for op in ops:
        for index in op["outputs"]:
            shape = [int(v) for v in tensors[index]["shape"]]
            if any(v > 1 for v in shape[:-3]):
                problems.append(f"{op['op_name']} output {shape} (a dimension outside the 3 innermost exceeds 1)")
            elif op["op_name"] == "FULLY_CONNECTED" and sum(v > 1 for v in shape) > 1:
                problems.append(f"FULLY_CONNECTED output {shape} (not one-dimensional)")
    return list(dict.fromkeys(problems))


def strip_names(model: bytes) -> bytes:
    """The model without tensor names and signature strings: nothing reads them on the device, and the
    flip-averaged graph's names alone would cost ~35 KiB of the 1 MiB budget."""
    model_object = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    flatbuffer_utils.strip_strings(model_object)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_object))
