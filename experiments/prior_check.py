"""Can accuracy be bought back from class weighting after training? The training prior added back to the outputs.

``train.class_weighting`` trains as if the four classes were equally common, which favours the rare ones
(surprise) over the common one (happy). For accuracy on data distributed like training, Bayes' rule says to add
``tau * log(prior)`` to the log-probabilities, tau = 1 undoing a plain inverse-frequency weighting (under
distillation, where a sample's weight follows its soft target's top class, only roughly). The run's selected
float model is scored as shipped (see ensemble_check.py); test is not read:

    python experiments/prior_check.py experiments/a050_s48_kd_long.yaml checkpoints/a050_s48_kd_long
"""

import sys
from pathlib import Path

import numpy as np  # noqa: E402
from ensemble_check import shipped_probabilities  # noqa: E402

from common.scores import classification_scores  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.selection import calibration_sample  # noqa: E402

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main(config: str, run: str) -> None:
    settings = load(Path(config))
    train, validation = load_split(settings, "train"), load_split(settings, "validation")
    log_probs = np.log(shipped_probabilities(Path(run), calibration_sample(train, settings), validation.images) + 1e-7)
    counts = np.bincount(train.labels, minlength=len(settings.classes))
    log_prior = np.log(counts / counts.sum())
    print("| tau | val acc | val macro-F1 |\n|---|---|---|")
    for tau in TAUS:
        scores = classification_scores(validation.labels, (log_probs + tau * log_prior).argmax(1), settings.classes)
        print(f"| {tau:g} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
