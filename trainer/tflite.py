"""Run and inspect TFLite files with the LiteRT interpreter, the same runtime the edge device uses."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from tqdm import tqdm

from edge.classifier import EmotionClassifier

INT8_INPUT_DESCRIPTION = {
    "dtype": "uint8",
    "pixels": "raw grayscale 0..255 of the face crop resized to height x width; with 3 channels, the gray crop replicated",
    "layout": "NHWC, static batch of 1",
    "quantization": "use the input tensor's own scale and zero point",
}


def predict_tflite(path: Path, gray: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Class probabilities for gray face images (N, H, W), through the edge daemon's own classifier, so a
    score measured here is the score the device gets (same resize, quantization and interpreter)."""
    classifier = EmotionClassifier(path, threads=2, labels=list(labels))
    return np.concatenate([classifier.classify([image]) for image in tqdm(gray, desc=f"run {path.name}", unit="img", leave=False, mininterval=1)])


def tflite_ops(path: Path) -> list[str]:
    """Distinct builtin operator names of a model, in first-use order."""
    interpreter = Interpreter(model_path=str(path))
    return list(dict.fromkeys(op["op_name"] for op in interpreter._get_ops_details()))


def tflite_tensor_dtypes(path: Path) -> dict[str, type]:
    interpreter = Interpreter(model_path=str(path))
    return {detail["name"]: detail["dtype"] for detail in interpreter.get_tensor_details()}
