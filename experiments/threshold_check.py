"""Would per-class decision offsets (added to the log-probabilities) raise macro-F1 beyond validation?

Validation is split in random halves: offsets are chosen on one half by grid search (macro-F1), then scored
on the other. A gain that holds on the held-out halves would be worth folding into the model; a loss means
the offsets only fit noise. The model is scored as shipped (see ensemble_check.py):

    python experiments/threshold_check.py checkpoints/a050_s48_kd
"""

import itertools
import sys
from pathlib import Path

import numpy as np  # noqa: E402
from ensemble_check import shipped_probabilities  # noqa: E402

from common.scores import classification_scores  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.selection import calibration_sample  # noqa: E402

GRID = np.round(np.arange(-0.6, 0.61, 0.1), 2)  # offsets for classes 1..3; class 0's stays 0


def macro_f1(log_probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> float:
    return classification_scores(labels, log_probs.argmax(1), classes)["macro_f1"]


def best_offsets(log_probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> np.ndarray:
    candidates = (np.array((0.0, *rest)) for rest in itertools.product(GRID, repeat=len(classes) - 1))
    return max(candidates, key=lambda offsets: macro_f1(log_probs + offsets, labels, classes))


def main(run: str, splits: int = 4) -> None:
    settings = load(Path(__file__).with_name("a050_s48_bnrecal.yaml"))
    train, validation = load_split(settings, "train"), load_split(settings, "validation")
    probs = shipped_probabilities(Path(run), calibration_sample(train, settings), validation.images)
    log_probs, labels, rng = np.log(probs + 1e-7), validation.labels, np.random.default_rng(0)
    gains = []
    for _ in range(splits):
        order = rng.permutation(len(labels))
        tune, held_out = order[: len(labels) // 2], order[len(labels) // 2 :]
        offsets = best_offsets(log_probs[tune], labels[tune], settings.classes)
        before = macro_f1(log_probs[held_out], labels[held_out], settings.classes)
        after = macro_f1(log_probs[held_out] + offsets, labels[held_out], settings.classes)
        gains.append(after - before)
        print(f"offsets {offsets[1:]}: held-out macro-F1 {before:.4f} -> {after:.4f}", flush=True)
    print(f"mean held-out change {np.mean(gains) * 100:+.2f} points")


if __name__ == "__main__":
    main(sys.argv[1])
