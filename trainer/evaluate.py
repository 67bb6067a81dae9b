"""``trainer evaluate``: several models on one split, side by side, with pictures a person can check.

Writes ``metrics.json``, ``report.md`` and PNGs to the output folder: a confusion matrix per model, one
reliability plot, the most confident mistakes, and Grad-CAM maps per class for Keras run folders.
Any folder dataset of the same layout can be evaluated, so other datasets can be studied too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserError
from edge.classifier import contract_file, read_labels
from trainer.config import TrainerConfig
from trainer.figures import plot_confusion, plot_image_grid, plot_reliability
from trainer.metrics import calibration_bins, output_columns, summarize
from trainer.pipeline import Split, load_split, preprocessed
from trainer.runs import WEIGHTS, load_float, load_qat, matching_run
from trainer.saliency import grad_cam, overlay
from trainer.selection import predict
from trainer.tflite import predict_tflite


@dataclass
class Candidate:
    name: str
    probs: np.ndarray
    keras_model: object | None = None


def keras_candidates(run_dir: Path, name: str, split: Split, settings: TrainerConfig) -> list[Candidate]:
    """The float model and, when trained, the QAT model of a run folder, scored as exported (the run's
    preprocess, mirror-averaged with ``export.flip_average``), so their rows compare with the TFLite rows and
    with the run's selection."""

    matching_run(run_dir, settings, "the evaluated run")  # its preprocess is the config's
    images = preprocessed(split.images, settings.model.preprocess)
    found = [Candidate(f"{name} float (Keras)", None, load_float(run_dir))]
    if (run_dir / "qat" / WEIGHTS).exists():
        found.append(Candidate(f"{name} QAT (Keras)", None, load_qat(run_dir)))
    for candidate in found:
        candidate.probs = predict(candidate.keras_model, images, settings.export.flip_average)
    return found


def tflite_candidate(path: Path, name: str, split: Split, classes: list[str]) -> Candidate:
    """A TFLite file's probabilities in ``classes`` order: a model with its labels file beside it (the
    contract's) may list them in any order; one without is taken to be in ``classes`` order. The raw faces go
    through the file's own preprocess (its contract's), as on the device."""
    labels = read_labels(path) if contract_file(path).is_file() else classes
    if sorted(labels) != sorted(classes):
        raise UserError(f"{path}: its labels {labels} are not trainer.classes {classes}")
    probs = predict_tflite(path, split.images[..., 0], labels)
    return Candidate(f"{name} (TFLite)", probs[:, output_columns(labels, classes, str(path))])


def candidates_for(path: Path, name: str, split: Split, settings: TrainerConfig) -> list[Candidate]:
    if not path.exists():
        raise UserError(f"{path}: model not found")
    if path.is_dir():
        return keras_candidates(path, name, split, settings)
    if path.suffix != ".tflite" or not path.is_file():
        raise UserError(f"{path}: expected a .tflite file or a run folder")
    return [tflite_candidate(path, name, split, settings.classes)]


def display_names(models: list[Path]) -> list[str]:
    """Each model's name in the report: the file or folder name, with its parent folder where two share it
    (a new export beside the shipped file), so no row overwrites another."""
    names = [path.name for path in models]
    return [f"{path.parent.name}/{path.name}" if names.count(path.name) > 1 else path.name for path in models]


def confident_mistakes(split: Split, candidate: Candidate, classes: list[str], out: Path, count: int = 24) -> Path:
    predicted = candidate.probs.argmax(1)
    wrong = np.flatnonzero(predicted != split.labels)
    worst = wrong[np.argsort(-candidate.probs[wrong].max(1))][:count]
    captions = [f"{classes[split.labels[i]]}->{classes[predicted[i]]} {candidate.probs[i].max():.2f}" for i in worst]
    return plot_image_grid(
        [split.images[i] for i in worst], captions, f"most confident mistakes: {candidate.name} (true->predicted)", out
    )


def saliency_grid(split: Split, candidate: Candidate, classes: list[str], out: Path, per_class: int = 6) -> Path:
    """Grad-CAM on correctly classified examples of each class, one row per class."""
    predicted = candidate.probs.argmax(1)
    images, captions = [], []
    for index, name in enumerate(classes):
        right = np.flatnonzero((split.labels == index) & (predicted == index))[:per_class]
        if len(right) == 0:
            continue
        cams = grad_cam(candidate.keras_model, split.images[right].astype(np.float32), split.labels[right])
        images += [overlay(split.images[i], cam) for i, cam in zip(right, cams)]
        captions += [f"{name} {candidate.probs[i, index]:.2f}" for i in right]
    return plot_image_grid(images, captions, f"Grad-CAM: {candidate.name}", out, columns=per_class)


def markdown_table(results: dict[str, dict], classes: list[str]) -> str:
    header = "| model | accuracy | macro-F1 | weighted-F1 | ECE | " + " | ".join(f"{c} F1" for c in classes) + " |"
    rule = "|" + "---|" * (5 + len(classes))
    rows = [
        f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['weighted_f1']:.4f} | {m['ece']:.4f} | "
        + " | ".join(f"{m['per_class'][c]['f1']:.3f}" for c in classes)
        + " |"
        for name, m in results.items()
    ]
    return "\n".join([header, rule, *rows])


def run_evaluation(settings: TrainerConfig, models: list[Path], split_name: str, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    split = load_split(settings, split_name, preprocess="none")  # raw faces: each model applies its own preprocess
    names = display_names(models)
    if len(set(names)) < len(names):
        raise UserError(f"models {', '.join(map(str, models))}: two share a name and a folder name; copy one aside")
    candidates = [c for path, name in zip(models, names) for c in candidates_for(path, name, split, settings)]
    results = {c.name: summarize(split.labels, c.probs, settings.classes) for c in candidates}
    figures = []
    for number, candidate in enumerate(candidates, 1):
        figures.append(
            plot_confusion(
                results[candidate.name]["confusion"], settings.classes, candidate.name, out / f"confusion_{number}.png"
            )
        )
        figures.append(confident_mistakes(split, candidate, settings.classes, out / f"mistakes_{number}.png"))
        if candidate.keras_model is not None:
            figures.append(saliency_grid(split, candidate, settings.classes, out / f"gradcam_{number}.png"))
    figures.append(
        plot_reliability({c.name: calibration_bins(split.labels, c.probs) for c in candidates}, out / "reliability.png")
    )
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "split": split_name,
                "data_dir": str(settings.data_dir),
                "manifest": str(settings.manifest) if settings.manifest else None,
                "results": results,
            },
            indent=2,
        )
    )
    table = markdown_table(results, settings.classes)
    files = f"the files listed in {settings.manifest.name}" if settings.manifest else "every file"
    title = f"# Evaluation on `{split_name}` ({len(split.labels)} images of {settings.data_dir.name}, {files})"
    report = [title, "", table, ""]
    report += [f"![{figure.stem}]({figure.name})" for figure in figures]
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(table)
    print(f"report: {out / 'report.md'}")
    return 0
