"""``trainer robustness``: how much of a model's accuracy survives a real camera (ImageNet-C's idea, for faces).

Every face of a split is degraded by each of ``trainer.corruptions.BENCHMARK``'s 6 corruptions at its 3
severities, on the raw 48x48 face, before the model's own preprocessing and resize: the model then sees it
through ``EmotionClassifier.classify`` exactly as the daemon would show it a face from a poor camera. The
headline is the mean accuracy over those 18 conditions; the clean split is scored alongside. Random
corruptions (sensor noise) are seeded by the face's own bytes, so the benchmark is the same on every run
and every machine, whatever order or process the faces are scored in.

Models are TFLite files in ``edge bench``'s ``--peer`` syntax (``PATH[:range=-1-1,labels=a,b,...]``), so a
foreign model (``fer``'s, 7 classes at 64 px in [-1, 1]) runs beside the shipped one; only the outputs of
``trainer.classes`` are compared, so a 7-class model is scored on the 4 classes as if it had only those.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.errors import UserError
from common.scores import classification_scores
from edge.bench.models import ModelSpec, parse_peer
from edge.classifier import EmotionClassifier
from trainer.config import TrainerConfig
from trainer.corruptions import BENCHMARK, Corruption
from trainer.dataset import split_files
from trainer.metrics import output_columns
from trainer.pipeline import read_gray

FACE_SIZE = 48  # the benchmark's severities are set for FER's 48x48 faces; a face of another size is resized first
MODEL_ARGUMENT = "model"  # how errors name a model spec (the MODEL arguments, or trainer.robustness.models)
LABELS_CURE = "give labels=... in output order"  # a peer spec names a foreign model's outputs


@dataclass(frozen=True)
class Condition:
    """One column of the benchmark: a corruption at one severity (1-3), or the clean faces (severity 0)."""

    corruption: str
    severity: int
    level: float = 0.0
    apply: Corruption | None = None

    @property
    def key(self) -> str:
        return self.corruption if self.apply is None else f"{self.corruption}-{self.severity}"


CLEAN = Condition("clean", 0)


def benchmark_conditions() -> list[Condition]:
    """The clean faces, then the 18 corrupted conditions in ``BENCHMARK`` order."""
    return [CLEAN] + [
        Condition(name, severity, level, apply)
        for name, apply, levels in BENCHMARK
        for severity, level in enumerate(levels, 1)
    ]


def face_seed(image: np.ndarray, condition: Condition) -> int:
    """A seed from the face's bytes and the condition: the same face always gets the same noise, two faces
    different noise, with no state carried between faces (so any subset or order scores the same)."""
    digest = hashlib.blake2b(image.tobytes(), digest_size=8)
    digest.update(f"{image.shape}:{condition.key}".encode())
    return int.from_bytes(digest.digest(), "little")


def corrupt(image: np.ndarray, condition: Condition) -> np.ndarray:
    """``image`` (2-D uint8) under ``condition``; the clean condition returns it unchanged."""
    if condition.apply is None:
        return image
    return condition.apply(image, condition.level, np.random.default_rng(face_seed(image, condition)))


def load_models(texts: list[str]) -> list[tuple[ModelSpec, EmotionClassifier]]:
    """Each spec parsed and loaded once (so a bad one fails before hours of scoring), names unique."""
    specs = [parse_peer(text, MODEL_ARGUMENT) for text in texts]
    names = [spec.name for spec in specs]
    for spec in specs:
        if names.count(spec.name) > 1:
            raise UserError(f"{MODEL_ARGUMENT} {spec.path}: a second model named {spec.name!r}; rename one file")
    return [(spec, spec.load()) for spec in specs]


def read_faces(settings: TrainerConfig, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Every face of the split (all files: the benchmark ignores the training manifest) as raw 48x48 gray."""
    paths, labels = split_files(settings.data_dir, split, settings.classes)
    faces = [
        read_gray(path, FACE_SIZE) for path in tqdm(paths, desc=f"read {split}", unit="img", leave=False, disable=None)
    ]
    return faces, np.asarray(labels)


def score_models(models, faces: list[np.ndarray], truth: np.ndarray, classes: list[str]) -> dict[str, dict]:
    """Accuracy and macro-F1 of every model under every condition: ``{model: {condition key: scores}}``.
    Each condition's faces are corrupted once and shown to every model."""
    conditions = benchmark_conditions()
    columns = {
        spec.name: output_columns(classifier.labels, classes, f"{MODEL_ARGUMENT} {spec.path}", LABELS_CURE)
        for spec, classifier in models
    }
    scores: dict[str, dict] = {spec.name: {} for spec, _ in models}
    with tqdm(
        total=len(conditions) * len(faces) * len(models), desc="robustness", unit="face", disable=None, mininterval=1.0
    ) as progress:
        for condition in conditions:
            corrupted = [corrupt(face, condition) for face in faces]
            for spec, classifier in models:
                chosen = columns[spec.name]
                predicted = np.array([int(np.argmax(classifier.classify([face])[0][chosen])) for face in corrupted])
                result = classification_scores(truth, predicted, classes)
                scores[spec.name][condition.key] = {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
                progress.update(len(faces))
    return scores


def summarize(scores: dict[str, dict]) -> dict[str, dict]:
    """Per model: its clean scores, the mean over the 18 corrupted conditions (the headline), the mean per
    corruption, and the share of clean accuracy that survives."""
    conditions = benchmark_conditions()[1:]
    summary = {}
    for name, by_key in scores.items():
        mean = {
            metric: float(np.mean([by_key[c.key][metric] for c in conditions])) for metric in ("accuracy", "macro_f1")
        }
        per_corruption = {
            corruption: float(np.mean([by_key[c.key]["accuracy"] for c in conditions if c.corruption == corruption]))
            for corruption, _, _ in BENCHMARK
        }
        clean = by_key[CLEAN.key]
        summary[name] = {
            "clean": clean,
            "mean_corrupted": mean,
            "mean_accuracy_per_corruption": per_corruption,
            "relative_accuracy": mean["accuracy"] / clean["accuracy"] if clean["accuracy"] else 0.0,
        }
    return summary


def markdown_report(results: dict) -> str:
    """The table a reader wants: one row per condition, accuracy and macro-F1 per model, headline first."""
    names = list(results["models"])
    header = "| corruption | severity | " + " | ".join(f"{name} accuracy | {name} macro-F1" for name in names) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * len(names))]

    def row(label: str, severity: str, values: list[dict], bold: bool = False) -> str:
        cells = [f"{v['accuracy']:.4f} | {v['macro_f1']:.4f}" for v in values]
        if bold:
            cells = [" | ".join(f"**{part}**" for part in cell.split(" | ")) for cell in cells]
        return f"| {label} | {severity} | " + " | ".join(cells) + " |"

    models = results["models"]
    lines.append(row("**mean of 18**", "1-3", [models[n]["summary"]["mean_corrupted"] for n in names], bold=True))
    lines.append(row("clean", "-", [models[n]["summary"]["clean"] for n in names]))
    for condition in results["conditions"][1:]:
        level = f"{condition['severity']} ({condition['level']:g})"
        lines.append(row(condition["corruption"], level, [models[n]["conditions"][condition["key"]] for n in names]))
    relative = " | ".join(f"{models[n]['summary']['relative_accuracy']:.3f} | -" for n in names)
    lines.append(f"| mean of 18 / clean accuracy | - | {relative} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> Path:
    """Accuracy against severity (0 = clean), one panel per corruption, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corruptions = [name for name, _, _ in BENCHMARK]
    figure, axes = plt.subplots(2, (len(corruptions) + 1) // 2, figsize=(10, 5.6), sharex=True, sharey=True)
    for axis, corruption in zip(axes.ravel(), corruptions):
        keys = [CLEAN.key] + [f"{corruption}-{severity}" for severity in (1, 2, 3)]
        for name, model in results["models"].items():
            axis.plot(
                range(4),
                [model["conditions"][key]["accuracy"] for key in keys],
                "o-",
                markersize=3,
                label=f"{name} (mean {model['summary']['mean_corrupted']['accuracy']:.3f})",
            )
        axis.axhline(
            results["majority_class_share"],
            color="gray",
            linestyle=":",
            linewidth=1,
            label="always the commonest class",
        )
        levels = [f"{c['level']:g}" for c in results["conditions"] if c["corruption"] == corruption]
        axis.set_title(f"{corruption} ({', '.join(levels)})", fontsize=9)
        axis.set_xticks(range(4), ["clean", "1", "2", "3"])
        axis.grid(alpha=0.3)
    for axis in axes[:, 0]:
        axis.set_ylabel("accuracy")
    for axis in axes[-1]:
        axis.set_xlabel("severity")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    figure.suptitle(
        f"Accuracy under camera degradations: {results['images']} {results['split']} faces of "
        f"{Path(results['data_dir']).name} (legend: mean over the 18 corrupted conditions)",
        fontsize=9,
    )
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def run_robustness(settings: TrainerConfig) -> int:
    started = time.perf_counter()
    options = settings.robustness
    models = load_models(options.models)
    faces, truth = read_faces(settings, options.split)
    scores = score_models(models, faces, truth, settings.classes)
    summary = summarize(scores)
    results = {
        "data_dir": str(settings.data_dir),
        "split": options.split,
        "images": len(faces),
        "classes": settings.classes,
        "majority_class_share": float(np.bincount(truth).max() / len(truth)),
        "runtime_s": round(time.perf_counter() - started, 1),
        "conditions": [
            {"key": c.key, "corruption": c.corruption, "severity": c.severity, "level": c.level}
            for c in benchmark_conditions()
        ],
        "models": {
            spec.name: {
                "path": str(spec.path),
                "preprocess": classifier.preprocess,
                "summary": summary[spec.name],
                "conditions": scores[spec.name],
            }
            for spec, classifier in models
        },
    }
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "robustness.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown_report(results)
    plot(results, out / "robustness.png")
    title = (
        f"# Robustness on `{options.split}` ({len(faces)} faces of {settings.data_dir.name}): "
        "6 camera degradations x 3 severities"
    )
    note = (
        f"Each face is corrupted at 48x48 before the model's own preprocessing and resize (`trainer robustness`, "
        f"trainer/corruptions.py); always answering the commonest class scores {results['majority_class_share']:.4f}. "
        f"Scoring took {results['runtime_s']:.0f} s."
    )
    (out / "report.md").write_text(
        f"{title}\n\n{note}\n\n{table}\n\n![accuracy by corruption and severity](robustness.png)\n", encoding="utf-8"
    )
    print(table)
    print(f"report: {out / 'report.md'}")
    return 0
