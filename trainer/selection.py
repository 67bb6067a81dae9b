"""Choosing a run's weights on validation, scored as the model will be shipped, and the callbacks that do it.

Selection and early stopping look at validation macro-F1 with BatchNorm statistics re-measured on
unaugmented training faces and, with ``export.flip_average``, each face averaged with its mirror image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tf_keras as keras

from common.scores import classification_scores
from trainer.config import TrainerConfig
from trainer.model import unwrapped
from trainer.pipeline import Split, preprocessed
from trainer.runs import RECORD, WEIGHTS, write_atomically


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
    layers = [
        unwrapped(layer) for layer in model.layers if isinstance(unwrapped(layer), keras.layers.BatchNormalization)
    ]
    saved = [layer.momentum for layer in layers]
    for index, start in enumerate(range(0, len(images), batch_size)):
        for layer in layers:
            layer.momentum = index / (index + 1)
        model(images[start : start + batch_size].astype(np.float32), training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


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
        scores = validation_scores(
            self.model, self.validation, self.settings.classes, self.settings.export.flip_average
        )
        if scores["macro_f1"] > self.best:
            self.best = scores["macro_f1"]
            self.save_selection({**record, "val_macro_f1": scores["macro_f1"], "val_accuracy": scores["accuracy"]})
        print(
            f"  {name}: val_accuracy {scores['accuracy']:.4f} val_macro_f1 {scores['macro_f1']:.4f} (best {self.best:.4f})",
            flush=True,
        )
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


def calibration_sample(train: Split, settings: TrainerConfig) -> np.ndarray:
    """A fixed random sample of unaugmented training images for the BatchNorm statistics, as model inputs
    (``train`` holds raw faces: the training pipeline preprocesses after augmenting)."""
    order = np.random.default_rng(settings.train.seed).permutation(len(train.labels))
    return preprocessed(train.images[order[: settings.train.bn_recalibration]], settings.model.preprocess)


def phase_callbacks(
    phase_dir: Path,
    run_dir: Path,
    train: Split,
    validation: Split,
    settings: TrainerConfig,
    epochs: int,
    average_last: int,
) -> list:
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
