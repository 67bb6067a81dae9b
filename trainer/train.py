"""``trainer train``: float training with model selection on validation macro-F1, then QAT fine-tuning.

The run folder (trainer.runs) and the selection on validation (trainer.selection) are modules of their own;
this one is the training loop: data, schedule, distillation targets and the two phases.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import tf_keras as keras

from common.errors import UserError
from trainer.config import TrainerConfig
from trainer.distill import soft_targets
from trainer.model import build_model
from trainer.pipeline import Split, class_weights, load_split, training_dataset
from trainer.quantize import quantize_for_training
from trainer.runs import load_float, load_weights, matching_run, prepare_run_dir
from trainer.selection import calibration_sample, phase_callbacks, recalibrate_batchnorm


def steps_per_epoch(train: Split, settings: TrainerConfig) -> int:
    """Whole batches of the training split, capped by ``train.max_steps_per_epoch`` for smoke runs."""
    steps = len(train.labels) // settings.train.batch_size
    if steps == 0:
        raise UserError(
            f"train split: {len(train.labels)} images, fewer than one batch of "
            f"trainer.train.batch_size {settings.train.batch_size}"
        )
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


def fit_phase(
    model,
    phase_dir: Path,
    run_dir: Path,
    train: Split,
    validation: Split,
    settings: TrainerConfig,
    epochs: int,
    average_last: int = 0,
) -> None:
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
    print(
        f"float training: {settings.train.epochs} epochs, peak learning rate {settings.train.learning_rate:g}",
        flush=True,
    )
    fit_phase(
        model,
        run_dir / "float",
        run_dir,
        train,
        validation,
        settings,
        settings.train.epochs,
        settings.train.average_last,
    )
    return finish_with_qat(run_dir, train, validation, settings)


def finish_with_qat(run_dir: Path, train: Split, validation: Split, settings: TrainerConfig) -> int:
    """Quantization-aware fine-tuning of the run's selected float weights, then the training curves."""
    if settings.qat.epochs:
        qat_model = quantize_for_training(load_float(run_dir))
        steps = steps_per_epoch(train, settings)
        schedule = keras.optimizers.schedules.CosineDecay(
            settings.qat.learning_rate, settings.qat.epochs * steps, alpha=0.1
        )
        compile_model(qat_model, schedule, settings)
        print(
            f"quantization-aware training (QAT): {settings.qat.epochs} epochs from the selected float weights, "
            f"peak learning rate {settings.qat.learning_rate:g}",
            flush=True,
        )
        fit_phase(qat_model, run_dir / "qat", run_dir, train, validation, settings, settings.qat.epochs)

    from trainer.figures import plot_training_curves

    plot_training_curves(run_dir)
    print(f"done: {run_dir}", flush=True)
    return 0
