"""Is a set of runs worth distilling from? Validation scores of each run and of every combination of them.

Each run's selected float model is scored as shipped (BatchNorm statistics re-measured on the trainer's
calibration sample, each face averaged with its mirror image); a combination averages its members'
probabilities. A teacher helps a student only where it knows something the student does not, so the gain
of a combination over its best member is the figure to look at (experiments/RESULTS.md, distillation).
The runs are scored on the validation split of ``--config``'s data, through its ``model.preprocess``:

    python experiments/ensemble_check.py checkpoints/ferplus runs/NAME
    python experiments/ensemble_check.py --config experiments/a050_s48_bnrecal.yaml checkpoints/vgg_teacher ...
"""

import argparse
import itertools
from pathlib import Path

import numpy as np  # noqa: E402

from common.scores import classification_scores  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.runs import load_float  # noqa: E402
from trainer.selection import calibration_sample, predict, recalibrate_batchnorm  # noqa: E402


def shipped_probabilities(run: Path, calibration: np.ndarray, images: np.ndarray) -> np.ndarray:
    model = load_float(run)
    recalibrate_batchnorm(model, calibration)
    return predict(model, images, flip_average=True)


def main(config: Path, runs: list[str]) -> None:
    settings = load(config)
    train, validation = load_split(settings, "train"), load_split(settings, "validation")
    calibration, images = calibration_sample(train, settings), validation.images
    probs = {Path(run).name: shipped_probabilities(Path(run), calibration, images) for run in runs}
    print("| runs averaged | val acc | val macro-F1 |\n|---|---|---|")
    for size in range(1, len(probs) + 1):
        for names in itertools.combinations(probs, size):
            scores = classification_scores(validation.labels, sum(probs[n] for n in names).argmax(1), settings.classes)
            print(f"| {' + '.join(names)} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders of trainer train")
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("ferplus.yaml"), help="the data")
    arguments = parser.parse_args()
    main(arguments.config, arguments.runs)
