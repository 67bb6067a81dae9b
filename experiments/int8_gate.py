"""Does a finished run's int8 file beat the shipped one on validation? The shipping rule, applied before test is read.

``trainer export --int8`` reads test as part of every export, so a candidate that may not ship is scored here
first: its int8 file is converted exactly as the export converts it (``trainer.export.trained_models``,
calibrated with ``export.calibration_samples`` faces of the run's seed), and it and its float twin are scored on
validation with LiteRT; test is not read. Each run folder is given with the config it was trained with:

    python experiments/int8_gate.py experiments/a050_s48_kd_long_qat1e-5.yaml=checkpoints/a050_s48_kd_long_qat1e-5 \
        experiments/a050_s48_kd_seed19.yaml=runs/a050_s48_kd_seed19

Only a candidate whose int8 validation accuracy is above the shipped file's is then exported (and so tested).
``--keep DIR`` keeps the converted files as DIR/<run>_float.tflite and DIR/<run>_int8.tflite, for validation-only
measurements of a candidate that has not shipped (``trainer robustness --split validation``, with
``preprocess=`` given as the run's ``model.preprocess``).
"""

import argparse
import tempfile
from pathlib import Path

from trainer.config import load  # noqa: E402
from trainer.export import calibration_images, convert_float, convert_int8, evaluate_file, trained_models  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402


def scores(config: Path, run: Path, keep: Path | None) -> str:
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
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, convert in (
            ("float", lambda: convert_float(float_model)),
            ("int8", lambda: convert_int8(quantizable, calibration)),
        ):
            path = folder / f"{run.name}_{kind}.tflite"
            path.write_bytes(convert())
            result = evaluate_file(path, validation, settings)
            row += [f"{result['accuracy']:.4f}", f"{result['macro_f1']:.4f}"]
    return "| " + " | ".join(row) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="CONFIG=RUN", help="an experiment YAML and its run folder")
    parser.add_argument("--keep", type=Path, help="folder to keep the converted files in")
    args = parser.parse_args()
    print("| run | float val acc | float val macro-F1 | int8 val acc | int8 val macro-F1 |\n|---|---|---|---|---|")
    for pair in args.runs:
        config, _, run = pair.partition("=")
        print(scores(Path(config), Path(run), args.keep), flush=True)


if __name__ == "__main__":
    main()
