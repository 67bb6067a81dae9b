"""Run folders of ``trainer train``: where a run's settings and weights live, and reading them back.

A run folder holds everything needed to resume, export and audit a run: ``config.json``, ``float/`` and
``qat/`` (best weights, selection record, history.csv, resumable backup), ``tensorboard/`` and ``curves.png``.
Export, evaluation, distillation and ``--resume`` all read runs through here, so a foreign, truncated or
mismatched folder is one line naming it wherever it is met.
"""

from __future__ import annotations

import json
from pathlib import Path

import tf_keras as keras

from common.errors import UserError, one_line
from trainer.config import ModelConfig, TrainerConfig
from trainer.model import build_model
from trainer.quantize import quantize_for_training

RECORD = "selected.json"  # the epoch chosen on validation, with its scores


WEIGHTS = "best.weights.h5"


def write_atomically(path: Path, write) -> None:
    """``write(partial)`` to a file beside ``path``, then a rename over it: a run killed while writing (a
    session's end, a power cut) never leaves a half-written file for ``--resume`` and export."""
    partial = path.with_name(f"partial.{path.name}")
    write(partial)
    partial.replace(path)


def prepare_run_dir(settings: TrainerConfig, resume: bool) -> Path:
    run_dir = settings.train.out_dir
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise UserError(f"{run_dir}: run folder is not empty (pass --resume to continue it, or --out for a new run)")
    if resume and not (run_dir / "config.json").exists():
        raise UserError(f"{run_dir}: nothing to resume (no config.json)")
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        check_resumable(run_dir, settings)
    else:
        write_atomically(run_dir / "config.json", lambda path: path.write_text(settings.model_dump_json(indent=2)))
    return run_dir


RESUMED_SECTIONS = (
    "classes",
    "data",
    "model",
    "train",
    "qat",
    "distill",
)  # what shapes the weights; not where files go


def check_resumable(run_dir: Path, settings: TrainerConfig) -> None:
    """``--resume`` continues the run as it was started: a changed schedule, batch size or teacher list
    would silently train a different run under the old one's name, so any change is refused, named. A key
    added to the trainer since the run started counts as unchanged at its default (the run trained without it)."""
    saved = with_defaults(saved_run(run_dir), json.loads(TrainerConfig().model_dump_json()))
    current = json.loads(settings.model_dump_json())
    for tree in (saved, current):
        tree.get("train", {}).pop("out_dir", None)  # the run folder itself may have moved
        # The data by name (its folder may have moved too), and the flip averaging the selection scores with.
        tree["data"] = {key: tree[key] and Path(tree[key]).name for key in ("data_dir", "manifest")}
        tree["data"]["flip_average"] = tree.get("export", {}).get("flip_average")
    changed = [
        key for section in RESUMED_SECTIONS for key in changed_keys(saved.get(section), current[section], section)
    ]
    if changed:
        raise UserError(
            f"{run_dir}: --resume with settings other than the run's config.json ({', '.join(changed[:4])}); "
            "resume with the config it was started with, or start a new run with --out"
        )


def with_defaults(saved: dict, defaults: dict) -> dict:
    """``saved`` with every key it lacks, at any depth, taken from ``defaults``."""
    merged = dict(saved)
    for key, default in defaults.items():
        if key not in merged:
            merged[key] = default
        elif isinstance(default, dict) and isinstance(merged[key], dict):
            merged[key] = with_defaults(merged[key], default)
    return merged


def changed_keys(saved, current, prefix: str) -> list[str]:
    """Dotted keys whose values differ between two JSON trees."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [
            key
            for name in sorted(saved.keys() | current.keys())
            for key in changed_keys(saved.get(name), current.get(name), f"{prefix}.{name}")
        ]
    return [] if saved == current else [f"{prefix}: {saved!r} -> {current!r}"]


def saved_run(run_dir: Path) -> dict:
    """The settings a run was trained with (its ``config.json``), so a run folder can be exported or evaluated
    whatever the current config says."""
    path = run_dir / "config.json"
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder of 'trainer train' (no config.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if not (isinstance(run, dict) and isinstance(run.get("classes"), list) and isinstance(run.get("model"), dict)):
        raise UserError(f"{path}: not the settings of a 'trainer train' run (no classes and model)")
    try:
        ModelConfig.model_validate(run["model"])
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise UserError(f"{path}: model: {one_line(exc)}") from None
    return run


def load_weights(model: keras.Model, path: Path) -> None:
    """``path``'s weights into ``model``; a file of another architecture or no weights at all is one line."""
    try:
        model.load_weights(path)
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: not weights of this {model.name} ({one_line(exc)})") from None


def matching_run(run_dir: Path, settings: TrainerConfig, role: str) -> dict:
    """A run's ``config.json``, refused unless it has ``trainer.classes`` in that order (its outputs are read
    as those classes: a reordered teacher would scramble the targets) at ``trainer.model.input_size``."""
    run = saved_run(run_dir)
    size = run["model"]["input_size"]
    if run["classes"] != settings.classes or size != settings.model.input_size:
        raise UserError(
            f"{run_dir}: {role} trained on classes {run['classes']} at {size} px, but the config has "
            f"{settings.classes} at {settings.model.input_size} px (trainer.classes, trainer.model.input_size)"
        )
    preprocess = run["model"].get("preprocess", "none")
    if preprocess != settings.model.preprocess:
        raise UserError(
            f"{run_dir}: {role} trained on faces preprocessed '{preprocess}', but the config has "
            f"'{settings.model.preprocess}' (trainer.model.preprocess)"
        )
    return run


def saved_architecture(run_dir: Path) -> tuple[ModelConfig, int]:
    """The architecture and class count a run was trained with."""
    saved = saved_run(run_dir)
    return ModelConfig.model_validate(saved["model"]), len(saved["classes"])


def load_float(run_dir: Path) -> keras.Model:
    model = build_model(*saved_architecture(run_dir))
    weights = run_dir / "float" / WEIGHTS
    if not weights.is_file():
        raise UserError(f"{weights}: no selected float weights (has the run's float phase finished an epoch?)")
    load_weights(model, weights)
    return model


def load_qat(run_dir: Path) -> keras.Model:
    model = quantize_for_training(build_model(*saved_architecture(run_dir)))
    load_weights(model, run_dir / "qat" / WEIGHTS)
    return model
