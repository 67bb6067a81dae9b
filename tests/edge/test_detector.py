"""BlazeFace decoding against the bundled models and the bundled (real) sample faces."""

import numpy as np
import pytest

from edge.detector import SPECS, FaceDetector, Letterbox, generate_anchors, weighted_nms
from tests.edge.conftest import sample_frames


@pytest.mark.parametrize("model, anchors", [("short", 896), ("full", 2304)])
def test_anchor_count_matches_the_model_outputs(model, anchors):
    detector = FaceDetector(model)
    output_rows = {int(d["shape"][1]) for d in detector.interpreter.get_output_details()}
    assert output_rows == {anchors}
    assert generate_anchors(SPECS[model]).shape == (anchors, 2)


@pytest.mark.parametrize("model, expected", [("short", 3), ("full", 4)])
def test_finds_the_sample_faces_inside_the_frame(model, expected):
    detector = FaceDetector(model)
    found = [detector.detect(frame) for frame in sample_frames()]
    assert sum(len(faces) == 1 for faces in found) >= expected
    for faces in found:
        for face in faces:
            x, y, w, h = face.box
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
            assert 30 <= h <= 200 and 0.5 < face.score <= 1


def test_mirrored_frame_gives_a_mirrored_box():
    detector = FaceDetector("full")
    frame = sample_frames()[1]
    (face,) = detector.detect(frame)
    (mirrored,) = detector.detect(frame[:, ::-1].copy())
    assert abs((640 - mirrored.box[0] - mirrored.box[2]) - face.box[0]) < 6
    assert abs(mirrored.box[1] - face.box[1]) < 6


def test_blank_frame_has_no_face():
    assert FaceDetector("full").detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_letterbox_maps_model_coordinates_back_to_source_pixels():
    letterbox = Letterbox((480, 640, 3), 192)
    # The whole padded model input spans 640 px wide and, centred, 640 px tall around the 480 px frame.
    assert np.allclose(letterbox.to_source(np.array([0.0, 0.0, 1.0, 1.0])), [0, -80, 640, 560])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]])
    kept = weighted_nms(boxes, np.array([0.9, 0.6, 0.7]), 0.3)
    assert len(kept) == 2
    merged, score = kept[0]
    assert score == pytest.approx(0.9)
    assert merged[0] == pytest.approx((0.1 * 0.9 + 0.12 * 0.6) / 1.5)
