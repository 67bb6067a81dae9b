"""Does the daemon frame a face as the model was trained to see it? ``edge.crop_margin`` grows the detector's
box on every side before the crop; the model learned FER2013's framing (the 48 px crops its makers cut around
each face). This measures that framing in the detector's own terms and what a mismatch costs.

Every validation face (DATA_DIR/validation, every file, default ferplus-4class) is upscaled 4x (the detector's
photo pass needs more than 48 px), set in a border of its own edge pixels (so a box reaching past the crop is
not clipped), and given to the default detector as a photo. From the box it finds:

* the margin that reproduces the training crop: ``(crop side / box side - 1) / 2``, per face, summarised;
* where the box sits in the crop (centre offset as a fraction of the crop);
* the shipped int8 model's validation accuracy and macro-F1 when the crop is the box grown by each margin
  (``edge.classifier.square_crop``, as the daemon cuts it); past the original crop the border is repeated
  pixels, not the face's real surroundings, so margins above the training one understate a camera's result.

    python experiments/framing_check.py [DATA_DIR]
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from common.scores import classification_scores
from edge.bench.accuracy import load_dataset_as
from edge.classifier import EmotionClassifier, square_crop
from edge.config import BUNDLED_MODEL
from edge.detector import FaceDetector

SCALE = 4  # 48 px -> 192 px: inside both models' range for a tight face
BORDER = 0.5  # of the upscaled crop's side, on every side
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def framed(face: np.ndarray) -> np.ndarray:
    """The face upscaled and set in a border of its edge pixels, as a BGR photo."""
    side = face.shape[0] * SCALE
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = int(side * BORDER)
    return cv2.cvtColor(cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2BGR)


def main(data_dir: Path) -> None:
    classifier = EmotionClassifier(BUNDLED_MODEL)
    detector = FaceDetector()
    images, truth = load_dataset_as(data_dir / "validation", classifier.labels)
    boxes = []
    for face in images:
        found = detector.detect(framed(face))
        boxes.append(found[0].box if found else None)
    seen = [i for i, box in enumerate(boxes) if box is not None]
    side = images[0].shape[0] * SCALE
    pad = int(side * BORDER)
    box_side = np.array([max(boxes[i][2], boxes[i][3]) for i in seen])
    offset_x = np.array([(boxes[i][0] + boxes[i][2] / 2 - pad) / side - 0.5 for i in seen])
    offset_y = np.array([(boxes[i][1] + boxes[i][3] / 2 - pad) / side - 0.5 for i in seen])
    matching = (side / box_side - 1) / 2
    quartiles = np.percentile(matching, [25, 50, 75])
    print(f"{data_dir}/validation: {len(images)} faces, a face found in {len(seen)} ({len(seen) / len(images):.1%})")
    print(f"box side / crop side: median {np.median(box_side / side):.3f}")
    print(
        f"margin that reproduces the training crop: median {quartiles[1]:.3f} (quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})"
    )
    print(
        f"box centre offset from the crop centre: x {np.median(offset_x):+.3f}, y {np.median(offset_y):+.3f} of the crop (median)"
    )
    print("\n| crop_margin | crop / training crop (median) | val accuracy | val macro-F1 |\n|---|---|---|---|")
    for margin in MARGINS:
        crops = [square_crop(cv2.cvtColor(framed(images[i]), cv2.COLOR_BGR2GRAY), boxes[i], margin) for i in seen]
        predicted = np.concatenate([classifier.classify([crop]).argmax(axis=1) for crop in crops])
        scores = classification_scores(truth[seen], predicted, classifier.labels)
        ratio = np.median(box_side * (1 + 2 * margin) / side)
        print(f"| {margin:.2f} | {ratio:.2f} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |", flush=True)
    whole = np.concatenate([classifier.classify([images[i]]).argmax(axis=1) for i in seen])
    scores = classification_scores(truth[seen], whole, classifier.labels)
    print(f"| the training crop itself | 1.00 | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ferplus-4class"))
