"""Where int8 wins and where it does not: the model cut after successive blocks, each prefix converted to
float and int8 TFLite and its invoke timed by ``edge.tools.interpreter_options`` (LiteRT, XNNPACK, one
thread, batch 2, as the flip-averaged graph ran until session 8; it now runs two batch-1 passes). The
difference between consecutive rows is the cost of the blocks in between. The table in experiments/RESULTS.md
("Speed of runs 3-18") is run 5's (checkpoints/a050_s48_bnrecal, restored from git); the shipped run's:

    python experiments/int8_profile.py checkpoints/ferplus
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from ai_edge_litert import interpreter as litert  # noqa: E402

import trainer  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from edge.tools.interpreter_options import time_invoke  # noqa: E402
from trainer.export import convert_float  # noqa: E402
from trainer.runs import load_float  # noqa: E402

CUTS = 8
REPEATS = 1000
TRIALS = 3  # fresh interpreters per prefix; the median of their p50s (one float instance can be 20% off)


def convert_int8(prefix: keras.Model, calibration: np.ndarray) -> bytes:
    """Like the exporter's conversion, but with an int8 output: the exporter's uint8 output adds a QUANTIZE
    of the whole cut feature map outside XNNPACK, which would be timed as if it were the prefix's."""
    converter = tf.lite.TFLiteConverter.from_keras_model(prefix)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calibration[i : i + 2]] for i in range(0, len(calibration), 2))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type, converter.inference_output_type = tf.uint8, tf.int8
    return converter.convert()


def invoke_p50_us(model_bytes: bytes, folder: Path) -> float:
    path = folder / "prefix.tflite"
    path.write_bytes(model_bytes)
    p50s = [time_invoke(path, litert.OpResolverType.AUTO, 1, REPEATS)[0]["p50"] for _ in range(TRIALS)]
    return float(np.median(p50s)) * 1e3


def main(run: str) -> None:
    model = load_float(Path(run))
    # Random pixels calibrate the int8 ranges: only the timing matters here.
    calibration = np.random.default_rng(0).integers(0, 256, (32, *model.input_shape[1:])).astype(np.float32)
    ends = [layer.name for layer in model.layers if isinstance(layer, (keras.layers.Add, keras.layers.ReLU))]
    print("| model up to | output shape | float us | int8 us | float / int8 |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in [ends[int(i)] for i in np.linspace(0, len(ends) - 1, CUTS)]:
            cut = keras.Model(model.input, model.get_layer(name).output)
            pixels = keras.Input(model.input_shape[1:], batch_size=2)
            prefix = keras.Model(pixels, cut(pixels))
            float_us = invoke_p50_us(convert_float(prefix), Path(scratch))
            int8_us = invoke_p50_us(convert_int8(prefix, calibration), Path(scratch))
            shape = "x".join(str(d) for d in prefix.output_shape[1:])
            print(f"| {name} | {shape} | {float_us:.0f} | {int8_us:.0f} | {float_us / int8_us:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
