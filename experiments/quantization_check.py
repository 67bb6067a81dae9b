"""Which int8 file of a run is best on validation: quantization-aware (its QAT weights) or post-training
quantization of its selected float weights, calibrated on more or fewer training faces?

Each candidate is converted exactly as ``trainer export --int8`` converts (``trainer.export.convert_int8``,
flip-averaged, batch 1) and scored as a TFLite file on validation; test is not read:

    python experiments/quantization_check.py experiments/a050_s48_kd_long.yaml checkpoints/a050_s48_kd_long
"""

import sys
import tempfile
from pathlib import Path

from trainer.config import load  # noqa: E402
from trainer.export import calibration_images, convert_float, convert_int8, evaluate_file  # noqa: E402
from trainer.model import with_flip_average  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.runs import load_float, load_qat  # noqa: E402

CALIBRATION_SIZES = (300, 1000, 4000)


def main(config: str, run: str) -> None:
    settings = load(Path(config))
    run_dir, seed = Path(run), settings.train.seed
    train, validation = (
        load_split(settings, "train"),
        load_split(settings, "validation", preprocess="none"),
    )  # raw: evaluate_file applies the preprocess
    float_model, qat_model = with_flip_average(load_float(run_dir)), with_flip_average(load_qat(run_dir))
    candidates = {"float TFLite (reference)": lambda: convert_float(float_model)}
    for size in CALIBRATION_SIZES:
        candidates[f"int8, QAT weights, {size} calibration faces"] = lambda size=size: convert_int8(
            qat_model, calibration_images(train, size, seed)
        )
        candidates[f"int8, post-training from float, {size} calibration faces"] = lambda size=size: convert_int8(
            float_model, calibration_images(train, size, seed)
        )
    print("| model | val acc | val macro-F1 |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, convert in candidates.items():
            path = Path(folder) / "candidate.tflite"
            path.write_bytes(convert())
            scores = evaluate_file(path, validation, settings)
            print(f"| {name} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
