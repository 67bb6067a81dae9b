"""Would more test-time views than the mirror image help? Validation scores of a run with each set of views.

The exported model averages each face with its mirror image (``export.flip_average``). Shifted and zoomed
copies are the next views a test-time-augmentation would add; each would cost one more backbone pass per
face on the device, so they are worth folding into the graph only if they gain on validation. The run's
selected float model is scored as shipped (BatchNorm statistics re-measured); a set of views averages the
views' log-probabilities (experiments/RESULTS.md, "More test-time views"):

    python experiments/tta_check.py experiments/a050_s48_kd_long.yaml checkpoints/a050_s48_kd_long
"""

import sys
from pathlib import Path

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from common.scores import classification_scores  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.pipeline import load_split  # noqa: E402
from trainer.runs import load_float  # noqa: E402
from trainer.selection import calibration_sample, recalibrate_batchnorm  # noqa: E402

VIEWS = {  # name: (zoom, shift right px, shift down px); each view is also scored mirrored
    "face": (1.0, 0, 0),
    "zoom 1.05": (1.05, 0, 0),
    "zoom 1.1": (1.1, 0, 0),
    "zoom 0.9": (0.9, 0, 0),
    "right 2": (1.0, 2, 0),
    "left 2": (1.0, -2, 0),
    "down 2": (1.0, 0, 2),
    "up 2": (1.0, 0, -2),
}
SETS = [
    ["face"],
    ["face", "zoom 1.05"],
    ["face", "zoom 1.1"],
    ["face", "zoom 0.9"],
    ["face", "zoom 1.1", "zoom 0.9"],
    ["face", "right 2", "left 2"],
    ["face", "down 2", "up 2"],
    list(VIEWS),
]


def warped(images: np.ndarray, zoom: float, right: int, down: int) -> np.ndarray:
    """Each face zoomed about its centre and shifted, edges replicated as a crop a little off would be."""
    size = images.shape[1]
    matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), 0, zoom)
    matrix[:, 2] += (right, down)
    return np.stack(
        [
            cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for face in images[..., 0]
        ]
    )[..., None]


def main(config: str, run: str) -> None:
    settings = load(Path(config))
    train, validation = load_split(settings, "train"), load_split(settings, "validation")
    model = load_float(Path(run))
    recalibrate_batchnorm(model, calibration_sample(train, settings))
    log_probs = {}
    for name, (zoom, right, down) in VIEWS.items():
        faces = warped(validation.images, zoom, right, down).astype(np.float32)
        log_probs[name] = sum(
            np.log(model.predict(batch, batch_size=256, verbose=0) + 1e-9) for batch in (faces, faces[:, :, ::-1])
        )
    print("| views (each with its mirror image) | backbone passes | val acc | val macro-F1 |\n|---|---|---|---|")
    for views in SETS:
        scores = classification_scores(validation.labels, sum(log_probs[v] for v in views).argmax(1), settings.classes)
        print(
            f"| {' + '.join(views)} | {2 * len(views)} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
