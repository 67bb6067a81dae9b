"""Which contrast normalisation should sit before the model? Scores TFLite files on a split under each of
``edge.preprocess.PREPROCESSES`` (overriding the file's contract), through the daemon's own classifier:

    python experiments/preprocess_check.py --data ../shared/data/ferplus-4class --split validation \
        edge/models/emotion_int8.tflite

A model trained on equalised faces and fed raw camera crops is what the daemon did before the contract named
the preprocessing; this measures how much that mismatch costs, and what each method gives.
"""

import argparse
from pathlib import Path

from edge.classifier import read_labels  # noqa: E402
from edge.preprocess import PREPROCESSES  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.metrics import output_columns, summarize  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.tflite import predict_tflite  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="validation")
    args = parser.parse_args()
    settings = load(None, {"data_dir": str(Path(args.data).resolve()), "manifest": None})
    split = load_split(settings, args.split, preprocess="none")
    print(
        f"| model ({len(split.labels)} faces of {Path(args.data).name}/{args.split}) | preprocess | accuracy | macro-F1 |"
    )
    print("|---|---|---|---|")
    for model in args.models:
        labels = read_labels(model)
        for method in PREPROCESSES:
            probs = predict_tflite(model, split.images[..., 0], labels, preprocess=method)
            columns = output_columns(labels, settings.classes, str(model))
            scores = summarize(split.labels, probs[:, columns], settings.classes)
            print(f"| {model} | {method} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
