"""The classifiers compared side by side: the shipped int8 model, its float twin, and ``--peer`` models.

A peer is any TFLite emotion model; its preprocessing is named in one argument::

    --peer PATH[:range=0-1,labels=angry,disgust,fear,happy,sad,surprise,neutral,size=64,channels=3,preprocess=none]

``range`` is what raw gray 0..255 maps onto (``0-255``, ``0-1`` or ``-1-1``; default ``0-255``, the
contract's), quantized with the input tensor's own scale and zero point when the model is integer.
``labels`` are the output classes in order (default: the ``labels`` of the JSON file beside the model); a
bare word after them continues the list, so commas need no escaping. ``size`` and ``channels`` are read
from the model's input tensor; given, they are checked against it. ``preprocess`` is the contrast
normalisation of the crop (``edge.preprocess``: ``none``, ``equalize_hist``, ``clahe``; default: the contract's
``input.preprocess`` beside the model, else ``none``). Every model runs through the daemon's own
``EmotionClassifier`` (preprocess, resize, replicate gray to the channels, quantize, invoke, dequantize).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.errors import UserError
from edge.bench.speed import percentiles_ms
from edge.classifier import EmotionClassifier, contract_file, read_float_twin, read_labels
from edge.config import EdgeConfig
from edge.preprocess import PREPROCESSES

RANGES = {"0-255": (0.0, 255.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}
PEER_KEYS = ("range", "labels", "size", "channels", "preprocess")
WARMUP = 20


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    labels: list[str] | None = None  # None: the JSON beside the model
    pixel_range: tuple[float, float] = RANGES["0-255"]
    expect: dict = field(default_factory=dict)  # size / channels the user stated, checked on load
    accelerator: str = "cpu"  # the shipped model follows edge.accelerator (a Coral runs its _edgetpu file)
    fallback_to_cpu: bool = False
    flag: str = "--peer"  # the option or argument that named the model, for its error messages
    preprocess: str | None = None  # None: the model's contract (edge.preprocess)

    def load(self, threads: int = 1) -> EmotionClassifier:
        """The daemon's classifier for this model, its stated input shape checked."""
        classifier = EmotionClassifier(
            self.path,
            threads,
            self.accelerator,
            self.fallback_to_cpu,
            labels=self.labels,
            pixel_range=self.pixel_range,
            preprocess=self.preprocess,
        )
        actual = {"size": classifier.height, "channels": classifier.channels}
        for key, value in self.expect.items():
            if actual[key] != value or (key == "size" and classifier.width != value):
                raise UserError(
                    f"{self.flag} {self.path}: {key}={value} but the model's input is "
                    f"{classifier.height}x{classifier.width}x{classifier.channels}"
                )
        return classifier


def shipped_specs(config: EdgeConfig) -> list[ModelSpec]:
    """The shipped model (on ``edge.accelerator``) and, when its JSON names one that exists, its float twin
    with the same labels (on the CPU: a float model never runs on an Edge TPU)."""
    model = config.model
    if not model.is_file():
        raise UserError(f"{model}: model file not found")
    labels = read_labels(model)
    name = "int8" if model.name == "emotion_int8.tflite" else model.stem
    specs = [
        ModelSpec(name, model, labels, accelerator=config.accelerator, fallback_to_cpu=config.edgetpu_fallback_to_cpu)
    ]
    twin = read_float_twin(model)
    if twin is not None:
        specs.append(ModelSpec("float", twin, labels))
    return specs


def parse_peer(text: str, flag: str = "--peer") -> ModelSpec:
    """``PATH[:key=value,...]`` -> a spec; anything malformed is a one-line error naming the argument, as
    ``flag`` (the option or argument it came from: ``trainer robustness`` reads the same syntax)."""
    path_text, _, options = text.partition(":")
    path = Path(path_text).resolve()
    if not path.is_file():
        raise UserError(f"{flag} {text}: model file not found")
    values: dict[str, list[str]] = {}
    key = None
    for token in filter(None, options.split(",")):
        if "=" in token:
            key, _, token = token.partition("=")
            if key not in PEER_KEYS:
                raise UserError(f"{flag} {text}: unknown option {key!r} (known: {', '.join(PEER_KEYS)})")
            values[key] = []
        elif key != "labels":
            raise UserError(f"{flag} {text}: {token!r} is not key=value")
        values[key].append(token)
    return ModelSpec(
        path.stem,
        path,
        _peer_labels(text, path, values, flag),
        _peer_range(text, values, flag),
        {k: _positive_int(text, k, values[k][0], flag) for k in ("size", "channels") if k in values},
        flag=flag,
        preprocess=_peer_preprocess(text, values, flag),
    )


def _peer_labels(text: str, path: Path, values: dict, flag: str) -> list[str]:
    labels = [label.strip() for label in values.get("labels", []) if label.strip()]
    if labels:
        return labels
    if contract_file(path).is_file():
        return read_labels(path)
    raise UserError(f"{flag} {text}: give labels=... (no {path.with_suffix('.json').name} beside the model)")


def _peer_range(text: str, values: dict, flag: str) -> tuple[float, float]:
    name = values.get("range", ["0-255"])[0]
    if name not in RANGES:
        raise UserError(f"{flag} {text}: range={name} (known: {', '.join(RANGES)})")
    return RANGES[name]


def _peer_preprocess(text: str, values: dict, flag: str) -> str | None:
    if "preprocess" not in values:
        return None
    name = values["preprocess"][0]
    if name not in PREPROCESSES:
        raise UserError(f"{flag} {text}: preprocess={name} (known: {', '.join(PREPROCESSES)})")
    return name


def _positive_int(text: str, key: str, value: str, flag: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"{flag} {text}: {key}={value} is not a positive integer")
    return int(value)


def time_classifier(classifier: EmotionClassifier, crops: list[np.ndarray], repeats: int) -> dict:
    """p50/p95/p99 of one face's full classify call (resize, quantize, invoke, dequantize), crops cycled."""
    for index in range(WARMUP):
        classifier.classify([crops[index % len(crops)]])
    timings = []
    for index in range(repeats):
        started = time.perf_counter()
        classifier.classify([crops[index % len(crops)]])
        timings.append(time.perf_counter() - started)
    return percentiles_ms(timings)


def compare_speed(specs: list[ModelSpec], crops: list[np.ndarray], threads: list[int], repeats: int) -> list[dict]:
    """Each model's per-face latency at each thread count, and its p50 over the shipped (first) model's:
    a ratio travels between machines where an absolute time does not; above 1 is slower."""
    rows = []
    for count in threads:
        baseline = None
        for spec in specs:
            latency = time_classifier(spec.load(count), crops, repeats)
            baseline = baseline or latency["p50"]
            rows.append(
                {
                    "model": spec.name,
                    "path": str(spec.path),
                    "threads": count,
                    "ms_per_face": latency,
                    "p50_ratio_to_shipped": round(latency["p50"] / baseline, 2),
                }
            )
    return rows
