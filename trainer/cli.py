"""``trainer``: one verb per job (eda, train, export, evaluate, robustness), every option also a ``config.yaml`` key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.configfile import absolute, add_config_flag, default_config_path
from common.errors import exit_on_user_error
from edge.config import resolve_peer
from trainer import config as trainer_config
from trainer.tf_runtime import load_tensorflow


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainer", description=__doc__.replace("``", ""))
    add_config_flag(parser)
    common = argparse.ArgumentParser(add_help=False)
    add_config_flag(common, verb=True)
    verbs = parser.add_subparsers(dest="verb", required=True)

    eda = verbs.add_parser(
        "eda", parents=[common], help="audit a folder dataset and write a visual report and a cleaned manifest"
    )
    eda.add_argument("data_dir", nargs="?", help="dataset root with train/ validation/ test/ (trainer.data_dir)")
    eda.add_argument("--out", help="report folder (trainer.eda.out_dir)")
    eda.add_argument(
        "--no-label-noise", action="store_true", help="skip the label-noise model (trainer.eda.label_noise)"
    )

    train = verbs.add_parser(
        "train", parents=[common], help="train the float model, then fine-tune it quantization-aware"
    )
    train.add_argument("--data", help="dataset root (trainer.data_dir)")
    train.add_argument("--manifest", help="cleaned manifest from 'trainer eda' (trainer.manifest)")
    train.add_argument("--out", help="run folder for checkpoints and logs (trainer.train.out_dir)")
    train.add_argument("--epochs", type=int, help="float training epochs (trainer.train.epochs)")
    train.add_argument("--qat-epochs", type=int, help="quantization-aware epochs (trainer.qat.epochs)")
    train.add_argument("--batch-size", type=int, help="(trainer.train.batch_size)")
    train.add_argument("--seed", type=int, help="(trainer.train.seed)")
    train.add_argument(
        "--teacher",
        action="append",
        metavar="RUN",
        help="distil from this finished run folder; repeat for an ensemble (trainer.distill.teachers)",
    )
    train.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")

    export = verbs.add_parser(
        "export",
        parents=[common],
        help="write the float TFLite model; with --int8 the checked int8 edge model too, with its contract and card",
    )
    export.add_argument("--run", help="run folder written by 'trainer train' (trainer.train.out_dir)")
    export.add_argument("--int8", action="store_true", help="full-integer int8 TFLite (the edge model)")
    export.add_argument("--out", help="int8 model path (trainer.export.out)")
    export.add_argument("--data", help="dataset root for calibration and the validation check (trainer.data_dir)")
    export.add_argument(
        "--force", action="store_true", help="replace the shipped model even if the new one scores lower on validation"
    )

    evaluate = verbs.add_parser(
        "evaluate", parents=[common], help="metrics, confusion matrix, calibration and saliency on a split"
    )
    evaluate.add_argument("models", nargs="+", help=".tflite files and/or Keras run folders to compare")
    evaluate.add_argument("--data", help="dataset root (trainer.data_dir)")
    evaluate.add_argument("--split", help="split to evaluate (trainer.evaluate.split, default test)")
    evaluate.add_argument("--out", help="report folder (trainer.evaluate.out_dir)")

    robustness = verbs.add_parser(
        "robustness", parents=[common], help="accuracy of TFLite models under 6 camera degradations x 3 severities"
    )
    robustness.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="a .tflite file, as PATH[:range=-1-1,labels=a,b,...] like edge bench --peer "
        "(trainer.robustness.models; default: the shipped int8 model and its float twin)",
    )
    robustness.add_argument("--data", help="dataset root (trainer.data_dir)")
    robustness.add_argument("--split", help="split to score (trainer.robustness.split, default test)")
    robustness.add_argument("--out", help="report folder (trainer.robustness.out_dir)")
    return parser


def overrides_for(args: argparse.Namespace) -> dict:
    """Map command-line options to dotted config keys; options left out keep the file's values."""
    common = {"data_dir": absolute(getattr(args, "data_dir", None) or getattr(args, "data", None))}
    if args.verb == "eda":
        return {**common, "eda.out_dir": absolute(args.out), "eda.label_noise": False if args.no_label_noise else None}
    if args.verb == "train":
        return {
            **common,
            "manifest": absolute(args.manifest),
            "train.out_dir": absolute(args.out),
            "train.epochs": args.epochs,
            "qat.epochs": args.qat_epochs,
            "train.batch_size": args.batch_size,
            "train.seed": args.seed,
            "distill.teachers": [absolute(run) for run in args.teacher] if args.teacher else None,
        }
    if args.verb == "export":
        return {**common, "train.out_dir": absolute(args.run), "export.out": absolute(args.out)}
    if args.verb == "robustness":
        return {
            **common,
            "robustness.models": [resolve_peer(m, absolute) for m in args.models] or None,
            "robustness.split": args.split,
            "robustness.out_dir": absolute(args.out),
        }
    return {**common, "evaluate.split": args.split, "evaluate.out_dir": absolute(args.out)}


def dispatch(args: argparse.Namespace) -> int:
    config_path = args.config if args.config is not None else default_config_path()
    settings = trainer_config.load(config_path, overrides_for(args))
    uses_manifest = args.verb != "robustness"  # the benchmark scores every file of its split
    if (
        uses_manifest
        and getattr(args, "data", None)
        and not getattr(args, "manifest", None)
        and settings.manifest is not None
        and settings.data_dir.resolve() != trainer_config.load(config_path, {}).data_dir.resolve()
    ):
        # The configured manifest lists the configured dataset's files, not these; say so, never silently.
        print(
            f"trainer: --data {settings.data_dir} is not the configured dataset; its manifest "
            f"{settings.manifest.name} is not used (give --manifest for this one)",
            file=sys.stderr,
        )
        settings.manifest = None
    if args.verb == "eda":
        from trainer.eda import run_audit

        return run_audit(settings)
    load_tensorflow()  # every other verb runs TensorFlow: imported once here, its start-up noise left out
    if args.verb == "train":
        from trainer.train import run_training

        return run_training(settings, resume=args.resume)
    if args.verb == "export":
        from trainer.export import run_export

        return run_export(settings, int8=args.int8, force=args.force)
    if args.verb == "robustness":
        from trainer.robustness import run_robustness

        return run_robustness(settings)
    from trainer.evaluate import run_evaluation

    return run_evaluation(settings, [Path(m) for m in args.models], settings.evaluate.split, settings.evaluate.out_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_on_user_error("trainer", dispatch, args)


if __name__ == "__main__":
    sys.exit(main())
