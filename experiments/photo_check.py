"""Real faces as photos, judged as ``edge run --source PHOTOS`` judges them: how many are found, and how many
are read right.

Every validation face (DATA_DIR/validation, every file, default ferplus-4class: real faces, each filling
~87 % of its picture, often cut at the chin or the hair: the tightest framing a photo has) is given to
``edge.batch.PhotoJudge`` with the default config as a photo of S px (the 48 px file upscaled with
INTER_CUBIC). A face counts as read right when the image's best detection has the face's label; a missed
face counts as wrong, as it would for the user. ``skip`` (the whole image is the face) is the ceiling:

    python experiments/photo_check.py [DATA_DIR]
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from common.scores import classification_scores
from edge.batch import PhotoJudge
from edge.bench.accuracy import load_dataset_as
from edge.config import DetectorConfig, EdgeConfig

SIZES = (48, 96, 192, 384)


def judged(judge: PhotoJudge, images: list[np.ndarray]) -> np.ndarray:
    """The best detection's class per image, -1 where no face is found."""
    predicted = []
    for image in images:
        faces = judge.faces(image)
        predicted.append(int(faces[0][1].argmax()) if faces else -1)
    return np.array(predicted)


def main(data_dir: Path) -> None:
    judge = PhotoJudge(EdgeConfig())
    skip = PhotoJudge(EdgeConfig(detector=DetectorConfig(model="skip")))
    gray, truth = load_dataset_as(data_dir / "validation", judge.labels)
    faces = [cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) for face in gray]
    print(f"{data_dir}/validation: {len(faces)} faces, default config (detector {judge.detector.model})")
    print(
        "| photo size | faces found | accuracy (missed = wrong) | macro-F1 (missed = wrong) | accuracy of found faces |"
    )
    print("|---|---|---|---|---|")
    for size in SIZES:
        images = [cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC) for face in faces]
        predicted = judged(judge, images)
        found = predicted >= 0
        scores = classification_scores(truth, predicted, judge.labels)
        found_accuracy = float((predicted[found] == truth[found]).mean()) if found.any() else 0.0
        print(
            f"| {size} px | {found.mean():.1%} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} | {found_accuracy:.4f} |",
            flush=True,
        )
    scores = classification_scores(truth, judged(skip, faces), judge.labels)
    print(
        f"| `detector.model: skip` (the whole image) | 100% | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} | - |"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ferplus-4class"))
