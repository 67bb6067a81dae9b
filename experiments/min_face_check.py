"""Below which face size does the classifier stop reading expressions? Smaller faces are not classified:
``edge run`` publishes nothing for them and ``edge annotate`` marks them "too small" (``edge.min_readable_px``).
Every validation face (FER2013's 48 px crops, which hold the face with a small margin, as the daemon's crop
does; every file of DATA_DIR/validation, default ferplus-4class) is brought down to the crop a detector box of
H px gives (H times 1 + 2 * crop_margin), then classified by the shipped int8 model through the daemon's own
preprocessing and resize (``EmotionClassifier.classify`` upscales it back to 48 px), for each H:

    python experiments/min_face_check.py [DATA_DIR]
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from common.scores import classification_scores
from edge.bench.accuracy import load_dataset_as
from edge.classifier import EmotionClassifier
from edge.config import BUNDLED_MODEL, EdgeConfig

BOX_HEIGHTS = (12, 16, 20, 24, 28, 32, 42)  # 42 px: a box whose crop (x 1.16) is the full 48 px


def main(data_dir: Path) -> None:
    classifier = EmotionClassifier(BUNDLED_MODEL)
    margin = EdgeConfig().crop_margin
    images, truth = load_dataset_as(data_dir / "validation", classifier.labels)
    print(f"{len(images)} validation faces; crop = box x {1 + 2 * margin:.2f}")
    print("| box height (px) | crop (px) | accuracy | macro-F1 |\n|---|---|---|---|")
    for height in BOX_HEIGHTS:
        side = min(round(height * (1 + 2 * margin)), 48)
        small = [cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image in images]
        predicted = np.concatenate([classifier.classify([crop]).argmax(axis=1) for crop in small])
        scores = classification_scores(truth, predicted, classifier.labels)
        print(f"| {height} | {side} | {scores['accuracy']:.3f} | {scores['macro_f1']:.3f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ferplus-4class"))
