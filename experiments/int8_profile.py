"""Where int8 wins and where it does not: the model cut after successive blocks, each prefix converted to
float and int8 TFLite and its invoke timed (LiteRT, XNNPACK, one thread, batch 2 as in the flip-averaged
graph). The difference between consecutive rows is the cost of the blocks in between. Numbers behind
docs/benchmark.md ("Why int8 is ~1.5x faster here"):

    python experiments/int8_profile.py checkpoints/a050_s48_bnrecal
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from ai_edge_litert import interpreter as litert  # noqa: E402

from trainer.export import convert_float  # noqa: E402
from trainer.train import load_float  # noqa: E402

CUTS = 8
REPEATS = 1500


def convert_int8(model: keras.Model) -> bytes:
    """Post-training int8 of a prefix (random calibration pixels: only the timing matters here)."""
    pixels = np.random.default_rng(0).integers(0, 256, (32, *model.input_shape[1:])).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([pixels[i : i + 2]] for i in range(0, len(pixels), 2))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type, converter.inference_output_type = tf.uint8, tf.int8
    return converter.convert()


def invoke_us(model_bytes: bytes) -> float:
    with tempfile.NamedTemporaryFile(suffix=".tflite") as file:
        file.write(model_bytes)
        file.flush()
        interpreter = litert.Interpreter(model_path=file.name, num_threads=1)
    interpreter.allocate_tensors()
    tensor = interpreter.get_input_details()[0]
    interpreter.set_tensor(tensor["index"], np.random.default_rng(0).integers(0, 256, tensor["shape"]).astype(tensor["dtype"]))
    timings = []
    for _ in range(REPEATS + 100):
        started = time.perf_counter()
        interpreter.invoke()
        timings.append(time.perf_counter() - started)
    return float(np.median(timings[100:])) * 1e6


def main(run: str) -> None:
    model = load_float(Path(run))
    ends = [layer.name for layer in model.layers if isinstance(layer, (keras.layers.Add, keras.layers.ReLU))]
    print("| model up to | output shape | float us | int8 us | float / int8 |\n|---|---|---|---|---|")
    for name in [ends[int(i)] for i in np.linspace(0, len(ends) - 1, CUTS)]:
        prefix = keras.Model(model.input, model.get_layer(name).output)
        pixels = keras.Input(model.input_shape[1:], batch_size=2)
        prefix = keras.Model(pixels, prefix(pixels))
        float_us, int8_us = invoke_us(convert_float(prefix)), invoke_us(convert_int8(prefix))
        shape = "x".join(str(d) for d in prefix.output_shape[1:])
        print(f"| {name} | {shape} | {float_us:.0f} | {int8_us:.0f} | {float_us / int8_us:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
