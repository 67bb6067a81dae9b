"""Does the classifier's fast downscale (``edge.preprocess.shrink``) change predictions against OpenCV's area
filter? 1,000 validation faces (250 per class) upscaled to a random 100-260 px, as a camera crop would be,
given the contract's contrast normalisation (as the daemon does, before the resize), then brought to the model's
48 px both ways (each timed) and classified by the shipped int8 model:

    python experiments/resize_check.py [DATA_DIR]
"""

import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from common.media import IMAGE_SUFFIXES
from edge.classifier import EmotionClassifier, read_preprocess
from edge.config import BUNDLED_MODEL
from edge.preprocess import normalize_contrast, shrink


def main(data_dir: Path) -> None:
    contrast = read_preprocess(BUNDLED_MODEL)
    classifier = EmotionClassifier(BUNDLED_MODEL, preprocess="none")  # the crop is normalised here, before the resize
    rng = random.Random(0)
    agree = correct_area = correct_shrink = total = 0
    timings = []
    for label, name in enumerate(classifier.labels):
        folder = data_dir / "validation" / name
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:250]:
            side = rng.randint(100, 260)
            face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (side, side), interpolation=cv2.INTER_CUBIC)
            crop = normalize_contrast(face, contrast)
            started = time.perf_counter()
            area_pixels = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
            middle = time.perf_counter()
            fast_pixels = shrink(crop, 48, 48)
            timings.append((middle - started, time.perf_counter() - middle))
            area, fast = classifier.classify([area_pixels]).argmax(), classifier.classify([fast_pixels]).argmax()
            agree, total = agree + (area == fast), total + 1
            correct_area, correct_shrink = correct_area + (area == label), correct_shrink + (fast == label)
    print(
        f"{total} faces: same prediction {agree / total:.3f}; accuracy area filter {correct_area / total:.3f}, "
        f"shrink {correct_shrink / total:.3f}"
    )
    area_us, shrink_us = np.median(timings, axis=0) * 1e6
    print(f"resize to 48 px, median per crop: area filter {area_us:.1f} us, shrink {shrink_us:.1f} us")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ferplus-4class"))
