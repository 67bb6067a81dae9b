"""How much re-measuring BatchNorm statistics on unaugmented training faces is worth, per finished run.

Prints validation accuracy / macro-F1 of each run's selected float weights, plain and flip-averaged, with
the running statistics from training and with statistics re-measured on every (unaugmented) training image.
The numbers behind run 5 in RESULTS.md:

    python experiments/bn_recalibration.py checkpoints/a050_s48_ft24 checkpoints/a050_s48_lowreg40
"""

import sys
from pathlib import Path

from trainer.config import load  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.runs import load_float  # noqa: E402
from trainer.selection import recalibrate_batchnorm, validation_scores  # noqa: E402


def main(runs: list[str]) -> None:
    settings = load(Path(__file__).with_name("a050_s48_bnrecal.yaml"))
    train, validation = load_split(settings, "train"), load_split(settings, "validation")
    print("| run | BatchNorm statistics | val acc / macro-F1 | flip-averaged val acc / macro-F1 |\n|---|---|---|---|")
    for run in map(Path, runs):
        model = load_float(run)
        for label in ("from training", "re-measured"):
            if label == "re-measured":
                recalibrate_batchnorm(model, train.images)
            plain, flipped = (validation_scores(model, validation, settings.classes, flip) for flip in (False, True))
            print(
                f"| {run.name} | {label} | {plain['accuracy']:.4f} / {plain['macro_f1']:.4f} | "
                f"{flipped['accuracy']:.4f} / {flipped['macro_f1']:.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
