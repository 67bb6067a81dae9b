"""Run and inspect TFLite files with the LiteRT interpreter, the same runtime the edge device uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from tqdm import tqdm

INT8_INPUT_DESCRIPTION = {
    "dtype": "uint8",
    "pixels": "raw grayscale 0..255 of the face crop resized to height x width; with 3 channels, the gray crop replicated",
    "layout": "NHWC, static batch of 1",
    "quantization": "use the input tensor's own scale and zero point",
}


def quantize(pixels: np.ndarray, detail: dict) -> np.ndarray:
    """Raw 0..255 pixels into the input tensor's dtype with its own scale and zero point."""
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return pixels.astype(np.float32)
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(pixels / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    return values.astype(np.float32) if scale == 0 else (values.astype(np.float32) - zero_point) * scale


def predict_tflite(path: Path, gray: np.ndarray) -> np.ndarray:
    """Class probabilities for gray images (N, H, W) already at the model's input size, one at a time
    (the exported models have a static batch of 1, as on the device)."""
    interpreter = Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    channels = detail["shape"][-1]
    outputs = []
    for image in tqdm(gray, desc=f"run {path.name}", unit="img", leave=False, mininterval=1):
        interpreter.set_tensor(detail["index"], quantize(image[None, :, :, None].repeat(channels, axis=-1), detail))
        interpreter.invoke()
        outputs.append(dequantize(interpreter.get_tensor(out["index"]), out)[0])
    return np.stack(outputs)


def tflite_ops(path: Path) -> list[str]:
    """Distinct builtin operator names of a model, in first-use order."""
    interpreter = Interpreter(model_path=str(path))
    return list(dict.fromkeys(op["op_name"] for op in interpreter._get_ops_details()))


def tflite_tensor_dtypes(path: Path) -> dict[str, type]:
    interpreter = Interpreter(model_path=str(path))
    return {detail["name"]: detail["dtype"] for detail in interpreter.get_tensor_details()}
