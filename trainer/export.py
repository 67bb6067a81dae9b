"""``trainer export --int8``: a full-integer TFLite model for the edge, its float twin, and the model contract.

The int8 file is checked before it replaces the shipped model: only Edge TPU-compatible ops and tensor shapes,
every tensor integer, and its validation accuracy within ``export.max_int8_drop`` of the float model's, measured on the
TFLite files themselves with the same interpreter the device uses. Everything is written to a staging folder
first and moved into place only once every check and the test evaluation have passed, so a failed export
leaves the shipped model, its twin, its contract and its card as they were. The contract describes the run
exported (its classes, architecture and teachers, from its ``config.json``), not the current config.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from common.errors import UserError
from edge.classifier import read_labels
from trainer.config import ModelConfig, TrainerConfig
from trainer.dataset import split_files
from trainer.evaluate import tflite_candidate
from trainer.figures import plot_confusion
from trainer.metrics import summarize
from trainer.model import batch_one, with_flip_average
from trainer.model_card import write_model_card
from trainer.pipeline import Split, load_split
from trainer.runs import WEIGHTS, load_float, load_qat, matching_run
from trainer.tf_runtime import quiet_converter
from trainer.tflite import (
    INT8_INPUT_DESCRIPTION,
    edgetpu_shape_problems,
    predict_tflite,
    strip_names,
    tflite_ops,
    tflite_tensor_dtypes,
)

# Operators the Edge TPU compiler maps to the TPU (coral.ai/docs/edgetpu/models-intro, "supported operations").
EDGETPU_OPS = frozenset(
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D EXPAND_DIMS FULLY_CONNECTED L2_NORMALIZATION "
    "LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MUL PACK PAD PRELU QUANTIZE REDUCE_MAX REDUCE_MIN RELU RELU6 "
    "RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SLICE SOFTMAX SPACE_TO_DEPTH SPLIT "
    "SQUEEZE STRIDED_SLICE SUB SUM SQUARED_DIFFERENCE TANH TRANSPOSE TRANSPOSE_CONV".split()
)


class ExportCheckFailed(UserError):
    exit_code = 3


def calibration_images(split: Split, count: int, seed: int) -> np.ndarray:
    """A random sample of training images for the int8 calibration, plus a black and a white frame so the
    input's range is exactly 0..255 and a raw pixel maps to itself (scale 1, zero point 0)."""
    rng = np.random.default_rng(seed)
    sample = split.images[rng.permutation(len(split.labels))[:count]].astype(np.float32)
    extremes = np.stack([np.zeros_like(sample[0]), np.full_like(sample[0], 255.0)])
    return np.concatenate([extremes, sample])


def convert_int8(model, calibration: np.ndarray) -> bytes:
    """Full-integer conversion: int8 weights and activations, uint8 raw-pixel input, uint8 probabilities."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    with quiet_converter():
        return strip_names(converter.convert())


def convert_float(model) -> bytes:
    with quiet_converter():
        return strip_names(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def check_edgetpu_compatible(path: Path, shipped: Path) -> list[str]:
    """The staged int8 file's operator list, raising (naming the ``shipped`` path it was meant to replace) if
    any op, tensor type or tensor shape would keep it off the Edge TPU."""
    ops = tflite_ops(path)
    foreign = sorted(set(ops) - EDGETPU_OPS)
    if foreign:
        raise ExportCheckFailed(
            f"{shipped}: the new int8 model has operators the Edge TPU cannot run: "
            f"{', '.join(foreign)}; nothing was replaced"
        )
    floats = sum(dtype == np.float32 for dtype in tflite_tensor_dtypes(path))
    if floats:
        raise ExportCheckFailed(f"{shipped}: {floats} float tensor(s) left in the new int8 model; nothing was replaced")
    shapes = edgetpu_shape_problems(path)
    if shapes:
        raise ExportCheckFailed(
            f"{shipped}: tensor shapes the Edge TPU cannot map in the new int8 model: "
            f"{'; '.join(shapes[:3])}; nothing was replaced"
        )
    return ops


ARCHITECTURE_NAMES = {"mobilenet_v2": "MobileNetV2", "vgg": "VGG-style CNN", "resnet": "ResNet-style CNN"}


def data_summary(settings: TrainerConfig) -> dict:
    counts = {}
    for split in ("train", "validation", "test"):
        _, labels = split_files(settings.data_dir, split, settings.classes, settings.manifest)
        counts[split] = {name: int(np.sum(np.asarray(labels) == index)) for index, name in enumerate(settings.classes)}
    return {
        "data_dir": settings.data_dir.name,
        "manifest": settings.manifest.name if settings.manifest else None,
        "counts": counts,
    }


def benchmark_metrics(settings: TrainerConfig, out: Path, float_path: Path) -> dict:
    """Both files on the test split of each ``export.benchmarks`` dataset (raw faces, the run's preprocess)."""
    results = {}
    for benchmark in settings.export.benchmarks:
        other = settings.model_copy(update={"data_dir": benchmark.data_dir, "manifest": None})
        test = load_split(other, "test", preprocess="none")
        results[benchmark.data_dir.name] = {
            "note": benchmark.note,
            "int8": evaluate_file(out, test, settings),
            "float": evaluate_file(float_path, test, settings),
        }
    return results


def write_contract(path: Path, settings: TrainerConfig, run: dict, ops: list[str], metrics: dict, source: str) -> dict:
    """The JSON beside the model that the edge daemon, the benchmark and third parties read; ``run`` is the
    exported run's own ``config.json``."""
    model = ModelConfig.model_validate(run["model"])
    contract = {
        "labels": run["classes"],
        "input": {
            **INT8_INPUT_DESCRIPTION,
            "preprocess": model.preprocess,
            "height": model.input_size,
            "width": model.input_size,
            "channels": 1,
        },
        "output": {
            "dtype": "uint8",
            "meaning": "class probabilities in 'labels' order; dequantize with the output tensor's scale and zero point",
        },
        "architecture": {
            "name": ARCHITECTURE_NAMES[model.architecture],
            **model.model_dump(),
            "flip_average": settings.export.flip_average,
        },
        "run": settings.train.out_dir.name,
        "trained_from": source,
        "distilled_from": [Path(teacher).name for teacher in run.get("distill", {}).get("teachers", [])],
        "targets": run.get("train", {}).get("targets", "labels"),
        "operators": ops,
        "float_twin": float_twin_name(path),
        "data": data_summary(settings),
        "metrics": metrics,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.with_suffix(".json").write_text(json.dumps(contract, indent=2) + "\n")
    return contract


def trained_models(settings: TrainerConfig):
    """(float model, model to quantize, how it was quantized), both batch-1 and flip-averaged if configured.

    The model to quantize is the QAT model when the run has one (its fake-quant ranges carry over),
    else the float model itself (post-training quantization).
    """

    run_dir = settings.train.out_dir
    if not (run_dir / "float" / WEIGHTS).exists():
        raise UserError(f"{run_dir}: no trained model (run 'trainer train' with this run folder first)")
    wrap = with_flip_average if settings.export.flip_average else batch_one
    float_model = wrap(load_float(run_dir))
    if (run_dir / "qat" / WEIGHTS).exists():
        return float_model, wrap(load_qat(run_dir)), "quantization-aware training"
    return float_model, float_model, "post-training quantization"


def evaluate_file(path: Path, split: Split, settings: TrainerConfig) -> dict:
    """A file being exported (no contract yet) on raw faces, through the run's preprocess."""
    probs = predict_tflite(path, split.images[..., 0], settings.classes, preprocess=settings.model.preprocess)
    return summarize(split.labels, probs, settings.classes)


def shipped_scores(shipped: Path, split: Split, settings: TrainerConfig) -> dict | None:
    """The shipped model's scores on the same raw faces, through its own contract (labels in its order,
    its preprocess); None when there is no shipped model or it has other classes."""
    if not shipped.is_file():
        return None
    if sorted(read_labels(shipped)) != sorted(settings.classes):
        return None
    return summarize(
        split.labels, tflite_candidate(shipped, "shipped", split, settings.classes).probs, settings.classes
    )


def guard_shipped(settings: TrainerConfig, candidate: dict, validation: Split, force: bool) -> None:
    """Never replace the shipped model with a worse one: the candidate's validation macro-F1 (the
    selection metric) must be at least the shipped file's on the very same files, or ``--force`` given."""
    shipped = settings.export.out
    current = shipped_scores(shipped, validation, settings)
    if current is None:
        if shipped.is_file() and not force:
            raise ExportCheckFailed(
                f"{shipped}: the shipped model has other classes than {settings.classes}, so the new "
                "one cannot be compared with it; nothing was replaced (--force to replace it)"
            )
        return
    where = f"the same {len(validation.labels)} files of {settings.data_dir.name}/validation"
    print(
        f"shipped {shipped.name}: validation accuracy {current['accuracy']:.4f} macro-F1 {current['macro_f1']:.4f} on {where}"
    )
    if candidate["macro_f1"] < current["macro_f1"] and not force:
        raise ExportCheckFailed(
            f"{shipped}: the new int8 model's validation macro-F1 {candidate['macro_f1']:.4f} is below "
            f"the shipped model's {current['macro_f1']:.4f} on {where}; nothing was replaced "
            "(--force to replace it anyway)"
        )


def float_twin_name(out: Path) -> str:
    """``emotion_int8.tflite`` -> ``emotion_float.tflite``; a name without ``_int8`` gets ``_float`` added."""
    return out.name.replace("_int8", "_float") if "_int8" in out.name else f"{out.stem}_float.tflite"


def run_export(settings: TrainerConfig, int8: bool = False, force: bool = False) -> int:
    """Stage every file, then move them over the shipped ones together (see the module docstring)."""

    out = settings.export.out
    # The data that calibrates and checks the model is read in trainer.classes order at the config's size.
    run = matching_run(settings.train.out_dir, settings, "the exported run")
    stage = out.parent / f".{out.stem}.staging"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        for path in export_files(settings, run, stage / out.name, int8, force):
            path.replace(out.parent / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return 0


def export_files(settings: TrainerConfig, run: dict, out: Path, int8: bool, force: bool = False) -> list[Path]:
    """The float twin and, with ``int8``, the checked int8 model, its contract, confusion matrix and card.
    Calibration takes model inputs (the run's preprocess); the files are scored on raw faces, as a device
    feeds them."""
    float_model, quantizable, source = trained_models(settings)
    train, validation = load_split(settings, "train"), load_split(settings, "validation", preprocess="none")
    float_path = out.with_name(float_twin_name(out))
    float_path.write_bytes(convert_float(float_model))
    float_val = evaluate_file(float_path, validation, settings)
    print(
        f"float TFLite {float_path.name} ({float_path.stat().st_size / 1024:.0f} KiB): validation accuracy {float_val['accuracy']:.4f} macro-F1 {float_val['macro_f1']:.4f}"
    )
    if not int8:
        return [float_path]

    out.write_bytes(
        convert_int8(quantizable, calibration_images(train, settings.export.calibration_samples, settings.train.seed))
    )
    ops = check_edgetpu_compatible(out, settings.export.out)
    int8_val = evaluate_file(out, validation, settings)
    drop = float_val["accuracy"] - int8_val["accuracy"]
    print(
        f"int8 TFLite ({out.stat().st_size / 1024:.0f} KiB, {source}): validation accuracy {int8_val['accuracy']:.4f} macro-F1 {int8_val['macro_f1']:.4f} (float - int8 = {drop * 100:+.2f} points)"
    )
    if drop > settings.export.max_int8_drop:
        raise ExportCheckFailed(
            f"{settings.export.out}: the new int8 model's validation accuracy trails the float model by "
            f"{drop * 100:.2f} points (limit export.max_int8_drop = {settings.export.max_int8_drop * 100:.1f}); "
            "nothing was replaced"
        )
    guard_shipped(settings, int8_val, validation, force)
    test = load_split(settings, "test", preprocess="none")
    metrics = {
        "validation": {"int8": int8_val, "float": float_val},
        "test": {"int8": evaluate_file(out, test, settings), "float": evaluate_file(float_path, test, settings)},
        "benchmarks": benchmark_metrics(settings, out, float_path),
    }
    contract = write_contract(out, settings, run, ops, metrics, source)
    confusion = plot_confusion(
        metrics["test"]["int8"]["confusion"],
        settings.classes,
        "int8 model, test",
        out.with_name(out.stem + "_confusion.png"),
    )
    card = write_model_card(contract, out, confusion)
    shipped = settings.export.out
    print(
        f"wrote {shipped} and {shipped.with_suffix('.json')}; test accuracy int8 {metrics['test']['int8']['accuracy']:.4f} macro-F1 {metrics['test']['int8']['macro_f1']:.4f}"
    )
    return [float_path, out, out.with_suffix(".json"), confusion, card]
