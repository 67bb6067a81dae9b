"""Does a finished run's int8 file beat the shipped one on validation? The shipping rule, applied before test is read.

``trainer export --int8`` reads test as part of every export, so a candidate that may not ship is scored here
first: its int8 file is converted exactly as the export converts it (``trainer.export.trained_models``,
calibrated with ``export.calibration_samples`` faces of the run's seed), and it and its float twin are scored on
validation with LiteRT; test is not read. Each run folder is given with the config it was trained with:

    python experiments/int8_gate.py experiments/a050_s48_kd_long_qat1e-5.yaml=checkpoints/a050_s48_kd_long_qat1e-5 \
        experiments/a050_s48_kd_seed19.yaml=runs/a050_s48_kd_seed19

Only a candidate whose int8 validation accuracy is above the shipped file's is then exported (and so tested).
"""

import sys
import tempfile
from pathlib import Path

from trainer.config import load  # noqa: E402
from trainer.export import calibration_images, convert_float, convert_int8, evaluate_file, trained_models  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402


def scores(config: Path, run: Path) -> str:
    """One table row: the run's float twin and int8 file, converted as exported, on validation."""
    settings = load(config, {"train.out_dir": str(run.resolve())})
    train, validation = (
        load_split(settings, "train"),
        load_split(settings, "validation", preprocess="none"),
    )  # raw: evaluate_file applies the preprocess
    float_model, quantizable, _ = trained_models(settings)
    calibration = calibration_images(train, settings.export.calibration_samples, settings.train.seed)
    row = [run.name]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "candidate.tflite"
        for convert in (lambda: convert_float(float_model), lambda: convert_int8(quantizable, calibration)):
            path.write_bytes(convert())
            result = evaluate_file(path, validation, settings)
            row += [f"{result['accuracy']:.4f}", f"{result['macro_f1']:.4f}"]
    return "| " + " | ".join(row) + " |"


def main(pairs: list[str]) -> None:
    print("| run | float val acc | float val macro-F1 | int8 val acc | int8 val macro-F1 |\n|---|---|---|---|---|")
    for pair in pairs:
        config, _, run = pair.partition("=")
        print(scores(Path(config), Path(run)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
