"""Does another quantization-aware fine-tune of the same float weights give a better int8 file on validation?

Run 13's QAT phase chose its first epoch (later ones scored lower), a hint that its step size was on the large
side for weights already at their optimum. Each variant below re-runs only the QAT phase of a run's selected
float weights (``trainer.train.finish_with_qat``, distilled as the run was) in a folder of its own under
``OUT``, then converts it as ``trainer export --int8`` does (``trainer.export.trained_models``, calibrated with
the variant's seed) and scores the int8 file on validation; test is not read. A variant that has finished is
not trained again and one cut short resumes, so the sweep carries on after a kill:

    python experiments/qat_sweep.py experiments/a050_s48_kd_long.yaml checkpoints/a050_s48_kd_long runs/qat_sweep

The winner is exported like any run: ``trainer --config CONFIG export --int8 --run OUT/NAME``.
"""

import shutil
import sys
import tempfile
from pathlib import Path

import tf_keras as keras  # noqa: E402

import trainer  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from trainer.config import load  # noqa: E402
from trainer.export import calibration_images, convert_int8, evaluate_file, trained_models  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.runs import check_resumable, write_atomically  # noqa: E402
from trainer.train import finish_with_qat  # noqa: E402

# name: (QAT epochs, peak learning rate, augmentation strength, seed); the run's own QAT was 3 epochs at 5e-5.
VARIANTS = {
    "lr1e-5_ep3": (3, 1e-5, None, None),
    "lr2e-5_ep2_aug0.3": (2, 2e-5, 0.3, None),
    "lr5e-5_ep3_seed2": (3, 5e-5, None, 2),
    "lr1e-5_ep6": (6, 1e-5, None, None),
    "lr1e-4_ep4": (4, 1e-4, None, None),
}


def variant_settings(config: Path, folder: Path, epochs: int, rate: float, augment, seed):
    """CONFIG's settings with the variant's, validated as the command line's would be (None keeps CONFIG's)."""
    return load(
        config,
        {
            "train.out_dir": str(folder.resolve()),
            "train.augment": augment,
            "train.seed": seed,
            "qat.epochs": epochs,
            "qat.learning_rate": rate,
        },
    )


def prepare(run: Path, folder: Path, settings) -> None:
    """The variant's folder: the run's selected float weights, their phase marked done, and the variant's
    settings (written last and atomically: a folder with a config.json is complete)."""
    (folder / "float").mkdir(parents=True, exist_ok=True)
    for name in ("best.weights.h5", "selected.json", "history.csv"):
        shutil.copy2(run / "float" / name, folder / "float" / name)
    (folder / "float" / "done").write_text("{}")
    write_atomically(folder / "config.json", lambda path: path.write_text(settings.model_dump_json(indent=2)))


def main(config: str, run: str, out: str) -> None:
    base = load(Path(config))
    train, validation = (
        load_split(base, "train"),
        load_split(base, "validation", preprocess="none"),
    )  # raw: evaluate_file applies the preprocess
    rows = []
    for name, (epochs, rate, augment, seed) in VARIANTS.items():
        folder = Path(out) / name
        settings = variant_settings(Path(config), folder, epochs, rate, augment, seed)
        if (folder / "config.json").exists():
            check_resumable(folder, settings)  # VARIANTS edited since: refused, named
        else:
            prepare(Path(run), folder, settings)
        if not (folder / "qat" / "done").exists():
            keras.utils.set_random_seed(settings.train.seed)
            finish_with_qat(folder, train, validation, settings)
        calibration = calibration_images(train, settings.export.calibration_samples, settings.train.seed)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "candidate.tflite"
            path.write_bytes(convert_int8(trained_models(settings)[1], calibration))
            scores = evaluate_file(path, validation, settings)
        rows.append(
            f"| {name} | {epochs} | {rate:g} | {settings.train.augment} | {settings.train.seed} "
            f"| {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |"
        )
        print(rows[-1], flush=True)
    print(
        "| variant | QAT epochs | peak LR | augment | seed | int8 val acc | int8 val macro-F1 |\n|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main(*sys.argv[1:])
