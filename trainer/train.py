"""``trainer train``: float training with model selection on validation macro-F1, then QAT fine-tuning.

A run folder holds everything needed to resume, export and audit a run:
``config.json``, ``float/`` and ``qat/`` (best weights, selection record, history.csv, resumable backup),
``tensorboard/`` and ``curves.png``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import tf_keras as keras

from edge.errors import UserError, one_line
from edge.scores import classification_scores
from trainer.config import ModelConfig, TrainerConfig
from trainer.distill import soft_targets
from trainer.model import build_model, unwrapped
from trainer.pipeline import Split, class_weights, load_split, preprocessed, training_dataset
from trainer.quantize import quantize_for_training

RECORD = "selected.json"  # the epoch chosen on validation, with its scores
WEIGHTS = "best.weights.h5"


def validation_scores(model: keras.Model, validation: Split, classes: list[str], flip_average: bool) -> dict:
    """Accuracy and macro-F1 of the model as it will be shipped: with ``export.flip_average`` each face is
    scored with its mirror image (on FER2013 that is worth up to 2-3 points, and runs rank differently with
    and without it: experiments/RESULTS.md). Here the two probability vectors are averaged; the exported
    graph averages their logits (trainer.model.with_flip_average), which picks the same class on all but
    the rare near-ties."""
    probs = predict(model, validation.images, flip_average)
    return classification_scores(validation.labels, probs.argmax(1), classes)


def predict(model: keras.Model, images: np.ndarray, flip_average: bool) -> np.ndarray:
    """Class probabilities of raw-pixel images; with ``flip_average``, averaged with the mirror images'."""
    images = images.astype(np.float32)
    probs = model.predict(images, batch_size=256, verbose=0)
    if flip_average:
        probs = (probs + model.predict(images[:, :, ::-1], batch_size=256, verbose=0)) / 2
    return probs


def recalibrate_batchnorm(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> None:
    """BatchNorm's running statistics measured anew on ``images``: the mean of the per-batch statistics.

    During training they follow augmented batches (erased patches, contrast and brightness changes), which
    a camera's faces do not look like; measured on unaugmented training faces they match what the model
    sees in use (+1.5 to 2 points of validation accuracy on FER2013, experiments/RESULTS.md). Training
    itself normalises with each batch's own statistics, so this changes inference only. A layer updates
    ``moving = momentum * moving + (1 - momentum) * batch``; momentum k/(k+1) at batch k (from 0) makes
    that the exact running mean.
    """
    layers = [unwrapped(layer) for layer in model.layers if isinstance(unwrapped(layer), keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for index, start in enumerate(range(0, len(images), batch_size)):
        for layer in layers:
            layer.momentum = index / (index + 1)
        model(images[start : start + batch_size].astype(np.float32), training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


def write_atomically(path: Path, write) -> None:
    """``write(partial)`` to a file beside ``path``, then a rename over it: a run killed while writing (a
    session's end, a power cut) never leaves a half-written file for ``--resume`` and export."""
    partial = path.with_name(f"partial.{path.name}")
    write(partial)
    partial.replace(path)


class SelectOnValidation(keras.callbacks.Callback):
    """Adds ``val_accuracy`` and ``val_macro_f1`` to the epoch logs, keeps the weights of the best epoch, and
    stops the phase ``train.patience`` epochs after it.

    Keras' own validation reports loss and accuracy; the deployment target is macro-F1 (sad and neutral
    matter as much as happy), so selection and early stopping look at that, scored as shipped: BatchNorm
    statistics re-measured on unaugmented training faces (``train.bn_recalibration``) and, with
    ``export.flip_average``, each face averaged with its mirror image. Early stopping lives here, not in
    Keras' ``EarlyStopping``, because that one forgets its best epoch on ``--resume``; this one reads it
    back from the selection record, so a resumed run stops where an uninterrupted one would.
    """

    def __init__(self, validation: Split, settings: TrainerConfig, folder: Path, calibration: np.ndarray):
        super().__init__()
        self.validation, self.settings, self.folder, self.calibration = validation, settings, folder, calibration
        record = json.loads((folder / RECORD).read_text()) if (folder / RECORD).exists() else {}
        self.best, self.best_epoch = record.get("val_macro_f1", -1.0), record.get("epoch") or 0

    def on_epoch_end(self, epoch, logs=None):
        best = self.best
        scores = self.consider(f"epoch {epoch + 1}", {"epoch": epoch + 1})
        logs["val_accuracy"], logs["val_macro_f1"] = scores["accuracy"], scores["macro_f1"]
        if self.best > best:
            self.best_epoch = epoch + 1
        if epoch + 1 - self.best_epoch >= self.settings.train.patience:
            print(f"  no better validation macro-F1 for {self.settings.train.patience} epochs: stopping", flush=True)
            self.model.stop_training = True

    def consider(self, name: str, record: dict) -> dict:
        """Score the model's current weights as shipped and keep them if they are the best so far."""
        if len(self.calibration):
            recalibrate_batchnorm(self.model, self.calibration)
        scores = validation_scores(self.model, self.validation, self.settings.classes, self.settings.export.flip_average)
        if scores["macro_f1"] > self.best:
            self.best = scores["macro_f1"]
            self.save_selection({**record, "val_macro_f1": scores["macro_f1"], "val_accuracy": scores["accuracy"]})
        print(f"  {name}: val_accuracy {scores['accuracy']:.4f} val_macro_f1 {scores['macro_f1']:.4f} (best {self.best:.4f})", flush=True)
        return scores

    def save_selection(self, record: dict) -> None:
        """Weights, then their record, each written atomically: the record never names weights not yet there."""
        write_atomically(self.folder / WEIGHTS, self.model.save_weights)
        write_atomically(self.folder / RECORD, lambda path: path.write_text(json.dumps(record, indent=2)))


class AverageLastEpochs(keras.callbacks.Callback):
    """Stochastic weight averaging: the mean of the weights after each epoch from ``first_epoch`` (0-based) to
    the phase's last, offered to the selection as one more candidate when the phase ends.

    At a low learning rate the weights wander around a wide optimum and the validation score moves by half a
    point from epoch to epoch; their mean sits nearer its centre. The selection scores the mean like any
    epoch (with ``train.bn_recalibration``, on BatchNorm statistics re-measured for it). A run stopped early
    averages the epochs of the window it reached. The running mean is saved after every epoch it takes in,
    so ``--resume`` carries it on; an epoch redone after a kill is not counted twice.
    """

    def __init__(self, selection: SelectOnValidation, first_epoch: int, folder: Path):
        super().__init__()
        self.selection, self.first_epoch, self.path = selection, first_epoch, folder / "average.npz"
        self.mean, self.epochs = None, []
        if self.path.exists():
            with np.load(self.path) as saved:
                self.epochs = [int(epoch) for epoch in saved["epochs"]]
                self.mean = [saved[f"w{index}"] for index in range(len(saved.files) - 1)]

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first_epoch or epoch in self.epochs:
            return
        weights = self.model.get_weights()
        self.epochs.append(epoch)
        share = 1 / len(self.epochs)
        self.mean = weights if self.mean is None else [m + (w - m) * share for m, w in zip(self.mean, weights)]
        arrays = {f"w{index}": w for index, w in enumerate(self.mean)}
        write_atomically(self.path, lambda path: np.savez(path, epochs=np.array(self.epochs), **arrays))

    def on_train_end(self, logs=None):
        if self.mean is None:
            return
        self.model.set_weights(self.mean)
        first, last = self.epochs[0] + 1, self.epochs[-1] + 1
        self.selection.consider(f"mean of epochs {first}-{last}", {"epoch": None, "averaged_epochs": [first, last]})


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


RESUMED_SECTIONS = ("classes", "data", "model", "train", "qat", "distill")  # what shapes the weights; not where files go


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
    changed = [key for section in RESUMED_SECTIONS for key in changed_keys(saved.get(section), current[section], section)]
    if changed:
        raise UserError(f"{run_dir}: --resume with settings other than the run's config.json ({', '.join(changed[:4])}); "
                        "resume with the config it was started with, or start a new run with --out")


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
        return [key for name in sorted(saved.keys() | current.keys())
                for key in changed_keys(saved.get(name), current.get(name), f"{prefix}.{name}")]
    return [] if saved == current else [f"{prefix}: {saved!r} -> {current!r}"]


def calibration_sample(train: Split, settings: TrainerConfig) -> np.ndarray:
    """A fixed random sample of unaugmented training images for the BatchNorm statistics, as model inputs
    (``train`` holds raw faces: the training pipeline preprocesses after augmenting)."""
    order = np.random.default_rng(settings.train.seed).permutation(len(train.labels))
    return preprocessed(train.images[order[: settings.train.bn_recalibration]], settings.model.preprocess)


def phase_callbacks(phase_dir: Path, run_dir: Path, train: Split, validation: Split, settings: TrainerConfig,
                    epochs: int, average_last: int) -> list:
    """Order matters: selection first, so the logs the others see already hold the validation scores."""
    selection = SelectOnValidation(validation, settings, phase_dir, calibration_sample(train, settings))
    averaging = [AverageLastEpochs(selection, epochs - average_last, phase_dir)] if average_last else []
    return [
        selection,
        *averaging,
        keras.callbacks.CSVLogger(str(phase_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard" / phase_dir.name), write_graph=False),
        keras.callbacks.BackupAndRestore(str(phase_dir / "backup")),
    ]


def steps_per_epoch(train: Split, settings: TrainerConfig) -> int:
    """Whole batches of the training split, capped by ``train.max_steps_per_epoch`` for smoke runs."""
    steps = len(train.labels) // settings.train.batch_size
    if steps == 0:
        raise UserError(f"train split: {len(train.labels)} images, fewer than one batch of "
                        f"trainer.train.batch_size {settings.train.batch_size}")
    return min(steps, settings.train.max_steps_per_epoch or steps)


def load_teachers(train: Split, settings: TrainerConfig) -> list[keras.Model]:
    """The ``distill.teachers`` runs' selected float models, BatchNorm statistics re-measured as in selection."""
    teachers, calibration = [], calibration_sample(train, settings)
    for run_dir in settings.distill.teachers:
        matching_run(run_dir, settings, "distill.teachers entry")
        teacher = load_float(run_dir)
        if len(calibration):
            recalibrate_batchnorm(teacher, calibration)
        teachers.append(teacher)
    return teachers


def fit_phase(model, phase_dir: Path, run_dir: Path, train: Split, validation: Split, settings: TrainerConfig, epochs: int,
              average_last: int = 0) -> None:
    """Fit one phase (float or QAT), resumable; skipped when the phase already finished."""
    if (phase_dir / "done").exists():
        print(f"{phase_dir.name}: already trained, skipping", flush=True)
        return
    phase_dir.mkdir(parents=True, exist_ok=True)
    steps = steps_per_epoch(train, settings)
    dataset = training_dataset(train, len(settings.classes), settings.train, settings.model.preprocess)
    if settings.distill.teachers:
        dataset = dataset.map(soft_targets(load_teachers(train, settings), settings.distill)).prefetch(2)
    started = time.time()
    model.fit(
        dataset.repeat(),
        epochs=epochs,
        steps_per_epoch=steps,
        class_weight=class_weights(train.labels, len(settings.classes)) if settings.train.class_weighting else None,
        callbacks=phase_callbacks(phase_dir, run_dir, train, validation, settings, epochs, average_last),
        verbose=1 if sys.stdout.isatty() else 2,
    )
    (phase_dir / "done").write_text(json.dumps({"seconds": round(time.time() - started, 1)}))


def compile_model(model, learning_rate, settings: TrainerConfig) -> None:
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=settings.train.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.train.label_smoothing),
        metrics=["accuracy"],
    )


def cosine_schedule(peak: float, epochs: int, steps: int, warmup_epochs: int = 2):
    """Linear warm-up from a tenth of ``peak`` over two epochs, then cosine decay to 1% of it."""
    warmup = min(warmup_epochs, max(epochs - 1, 0)) * steps
    return keras.optimizers.schedules.CosineDecay(
        peak * 0.1, max(epochs * steps - warmup, 1), alpha=0.01, warmup_target=peak, warmup_steps=warmup
    )


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
        raise UserError(f"{run_dir}: {role} trained on classes {run['classes']} at {size} px, but the config has "
                        f"{settings.classes} at {settings.model.input_size} px (trainer.classes, trainer.model.input_size)")
    preprocess = run["model"].get("preprocess", "none")
    if preprocess != settings.model.preprocess:
        raise UserError(f"{run_dir}: {role} trained on faces preprocessed '{preprocess}', but the config has "
                        f"'{settings.model.preprocess}' (trainer.model.preprocess)")
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


def run_training(settings: TrainerConfig, resume: bool = False) -> int:
    train = load_split(settings, "train", preprocess="none", targets=True)
    validation = load_split(settings, "validation")
    run_dir = prepare_run_dir(settings, resume)
    keras.utils.set_random_seed(settings.train.seed)
    print(f"train {len(train.labels)} images, validation {len(validation.labels)}; run folder {run_dir}", flush=True)
    steps = steps_per_epoch(train, settings)

    model = build_model(settings.model, len(settings.classes))
    if settings.train.init_weights is not None:
        if not settings.train.init_weights.is_file():
            raise UserError(f"{settings.train.init_weights}: train.init_weights file not found")
        load_weights(model, settings.train.init_weights)
    compile_model(model, cosine_schedule(settings.train.learning_rate, settings.train.epochs, steps), settings)
    print(f"float training: {settings.train.epochs} epochs, peak learning rate {settings.train.learning_rate:g}", flush=True)
    fit_phase(model, run_dir / "float", run_dir, train, validation, settings, settings.train.epochs,
              settings.train.average_last)
    return finish_with_qat(run_dir, train, validation, settings)


def finish_with_qat(run_dir: Path, train: Split, validation: Split, settings: TrainerConfig) -> int:
    """Quantization-aware fine-tuning of the run's selected float weights, then the training curves."""
    if settings.qat.epochs:
        qat_model = quantize_for_training(load_float(run_dir))
        steps = steps_per_epoch(train, settings)
        schedule = keras.optimizers.schedules.CosineDecay(settings.qat.learning_rate, settings.qat.epochs * steps, alpha=0.1)
        compile_model(qat_model, schedule, settings)
        print(f"quantization-aware training (QAT): {settings.qat.epochs} epochs from the selected float weights, "
              f"peak learning rate {settings.qat.learning_rate:g}", flush=True)
        fit_phase(qat_model, run_dir / "qat", run_dir, train, validation, settings, settings.qat.epochs)

    from trainer.figures import plot_training_curves

    plot_training_curves(run_dir)
    print(f"done: {run_dir}", flush=True)
    return 0
