"""Face detection against the bundled models and the bundled (real) sample faces: BlazeFace decoding, the
regions the multiscale passes look at, and the detectors a config can choose."""

import cv2
import numpy as np
import pytest

from edge.bench.stream import sample_face
from edge.detector import (
    MIN_SCORE,
    SPECS,
    BlazeFace,
    FaceDetector,
    Letterbox,
    Pass,
    covering,
    generate_anchors,
    squares,
    surround,
    tiles,
    weighted_nms,
)
from edge.stream_plan import SEARCH_PACE, follow_region
from edge.tools.annotate_demo import SECOND_FACE_AT_S, backdrop, demo_frame
from edge.tools.measure_detector import FRAMINGS, face_clip, face_frames, face_free_frames, found
from edge.tracker import iou_xywh
from tests.edge.conftest import sample_frames


@pytest.mark.parametrize("model, anchors", [("short", 896), ("full", 2304)])
def test_anchor_count_matches_the_model_outputs(model, anchors):
    blazeface = BlazeFace(model, 0.5, 1)
    output_rows = {int(d["shape"][1]) for d in blazeface.interpreter.get_output_details()}
    assert output_rows == {anchors}
    assert generate_anchors(SPECS[model]).shape == (anchors, 2)


@pytest.mark.parametrize(
    "model, small_faces, expected",
    [("short", False, 3), ("full", False, 4), ("multiscale", False, 4), ("multiscale", True, 4)],
)
def test_finds_the_sample_faces_inside_the_frame(model, small_faces, expected):
    """The four frames hold one face each, 46 to 131 px: ``short`` cannot see the 46 px one."""
    detector = FaceDetector(model, small_faces=small_faces)
    found = [detector.detect(frame) for frame in sample_frames()]
    assert sum(len(faces) == 1 for faces in found) == expected
    for faces in found:
        for face in faces:
            x, y, w, h = face.box
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
            assert 30 <= h <= 200 and 0.5 < face.score <= 1


def test_multiscale_merges_the_passes_into_one_box_per_face():
    """``full`` on four squares and ``short`` on the whole frame all see the 131 px face: one detection."""
    frame = sample_frames()[0]
    (merged,) = FaceDetector("multiscale", small_faces=True).detect(frame)
    (alone,) = FaceDetector("full").detect(frame)
    assert np.allclose(merged.box, alone.box, atol=12)


def test_mirrored_frame_gives_a_mirrored_box():
    detector = FaceDetector()
    frame = sample_frames()[1]
    (face,) = detector.detect(frame)
    (mirrored,) = detector.detect(frame[:, ::-1].copy())
    assert abs((640 - mirrored.box[0] - mirrored.box[2]) - face.box[0]) < 6
    assert abs(mirrored.box[1] - face.box[1]) < 6


@pytest.mark.parametrize("model", ["multiscale", "full", "short"])
def test_blank_frame_has_no_face(model):
    assert FaceDetector(model, small_faces=True).detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_skip_takes_the_whole_image_as_the_face():
    (face,) = FaceDetector("skip").detect(np.zeros((48, 64, 3), np.uint8))
    assert face.box == (0.0, 0.0, 64.0, 48.0) and face.score == 1.0


def test_a_score_threshold_overrides_every_pass_and_an_unknown_detector_is_refused():
    strict = FaceDetector("multiscale", score_threshold=0.99)
    plan = strict.stream_plan
    models = [p.model for p in strict.passes] + [model for model, _ in plan.search] + [plan.follow, strict.confirm]
    assert all(model.logit_threshold == pytest.approx(np.log(0.99 / 0.01)) for model in models)
    assert [f.score for f in FaceDetector().detect(sample_frames()[1])] != []
    assert strict.detect(sample_frames()[1]) == []
    with pytest.raises(ValueError, match="detector 'huge': not one of multiscale, full, short, skip"):
        FaceDetector("huge")


@pytest.mark.parametrize("height, width", [(480, 640), (640, 480), (100, 100), (1080, 1920), (37, 301)])
def test_regions_cover_the_frame_and_overlap_by_a_quarter_side(height, width):
    for regions in (squares(height, width), tiles(height, width)):
        covered = np.zeros((height, width), bool)
        for x, y, w, h in regions:
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height and w == h
            covered[y : y + h, x : x + w] = True
        assert covered.all()
        side = regions[0][2]
        xs, ys = sorted({x for x, *_ in regions}), sorted({y for _, y, *_ in regions})
        for starts in (xs, ys):
            assert all(later - earlier <= side * 0.75 for earlier, later in zip(starts, starts[1:]))
    assert len(squares(480, 640)) == 4 and squares(480, 640)[0][2] == 384
    assert len(tiles(480, 640)) == 12 and covering(480, 640, 640) == ((0, 0, 640, 640),)


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


def recorded_runs(monkeypatch) -> list:
    """Every model run from now on, as (model input size, region)."""
    runs = []
    look = BlazeFace.look

    def recording(self, frame_bgr, region):
        runs.append((self.spec.input_size, region))
        return look(self, frame_bgr, region)

    monkeypatch.setattr(BlazeFace, "look", recording)
    return runs


def test_a_photo_gets_every_pass_and_a_stream_frame_one_search_step_plus_one_run_per_face(monkeypatch):
    """The cost that keeps a 640x480 stream above 100 fps: a photo gets ``full`` on each of four squares,
    ``short`` around the face they found (to confirm it), and ``short`` on the whole of it and on it in a gray
    surround; a stream's frame one step of the search (here ``full``, then ``short`` on the whole frame; while
    the faces followed are found, every ``SEARCH_PACE`` frames), ``short`` around a face the search finds new
    (to confirm it) and ``short`` around the face found before."""
    runs = recorded_runs(monkeypatch)
    detector = FaceDetector()
    face, wall = sample_frames()[1], np.full((480, 640, 3), 90, np.uint8)
    whole_frame = (0, 0, 640, 480)
    (photo_face,) = detector.detect(face)
    assert runs[:4] == [(192, (x, y, 384, 384)) for x, y in ((0, 0), (256, 0), (0, 96), (256, 96))]
    assert runs[4][0] == 128 and iou_xywh(runs[4][1], follow_region(photo_face.box, 480, 640)) > 0.8
    assert runs[5:] == [(128, whole_frame), (128, (-320, -320, 1280, 1120))]
    runs.clear()
    faces = [detector.detect(face, stream=True)[0] for _ in range(SEARCH_PACE + 1)]
    assert runs[0] == (192, whole_frame) and runs[1] == (128, follow_region(faces[0].box, 480, 640))  # confirmed
    followed = [(128, follow_region(one.box, 480, 640)) for one in faces[:-1]]
    assert runs[2:] == followed + [(128, whole_frame)]  # followed each frame, the next search step a pace later
    detector.new_stream()
    runs.clear()
    assert [detector.detect(wall, stream=True) for _ in range(7)] == [[]] * 7
    assert runs == [(192, whole_frame), (128, whole_frame)] + [(192, r) for r in squares(480, 640)] + [
        (192, whole_frame)
    ]


def tight_photo(frame: np.ndarray, fraction: float) -> np.ndarray:
    """The frame's face cut to a square ``fraction`` of its box's height (under 1: cut at chin and hair), as a
    192 px photo: a profile picture, a dataset's face crop."""
    (face,) = FaceDetector("full").detect(frame)
    x, y, w, h = face.box
    side, centre_x, centre_y = h * fraction, x + w / 2, y + h / 2
    crop = frame[
        int(centre_y - side / 2) : int(centre_y + side / 2), int(centre_x - side / 2) : int(centre_x + side / 2)
    ]
    return cv2.resize(crop, (192, 192), interpolation=cv2.INTER_CUBIC)


def test_a_fist_full_takes_for_a_face_counts_only_if_short_around_it_agrees():
    """Two frames of the detector benchmark's hands in which ``full`` on the squares finds a "face"
    (docs/detector.md): the default drops it, as a photo and as a stream."""
    squares_alone = FaceDetector("full")
    squares_alone.passes = [Pass(BlazeFace("full", MIN_SCORE["squares"], 1), squares)]
    frames = [frame for index, (kind, frame) in enumerate(face_free_frames(84)) if index in (62, 83)]
    assert all(kind == "hands" for index, (kind, _) in enumerate(face_free_frames(84)) if index in (62, 83))
    assert all(len(squares_alone.detect(frame)) == 1 for frame in frames)
    detector = FaceDetector()
    assert [detector.detect(frame) for frame in frames] == [[], []]
    for frame in frames:
        detector.new_stream()
        assert [detector.detect(frame, stream=True) for _ in range(6)] == [[]] * 6  # every step of the search


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_photo_cut_inside_the_face_is_found_in_a_gray_surround(index):
    """Neither model finds a face that overflows the photo; set in a gray border, ``short`` does."""
    photo = tight_photo(sample_frames()[index], 0.8)
    short = BlazeFace("short", MIN_SCORE["short"], 1)
    assert len(short.look(photo, (0, 0, 192, 192))[1]) == 0
    (face,) = FaceDetector().detect(photo)
    x, y, w, h = face.box
    assert w >= 170 and h >= 170 and 0 <= x and 0 <= y and x + w <= 192 and y + h <= 192


def test_a_surround_regions_boxes_are_in_the_frames_pixels():
    """The same face seen whole and in the surround: one box, in the photo's coordinates, both times."""
    photo = tight_photo(sample_frames()[0], 1.0)
    short = BlazeFace("short", MIN_SCORE["short"], 1)
    assert surround(192, 192) == ((-96, -96, 384, 384),) and surround(480, 640) == ((-320, -320, 1280, 1120),)
    whole_box, _ = weighted_nms(*short.look(photo, (0, 0, 192, 192)), 0.3)[0]
    surround_box, _ = weighted_nms(*short.look(photo, surround(192, 192)[0]), 0.3)[0]
    assert np.allclose(whole_box, surround_box, atol=16)  # a mapping slip would be off by ~96 px or 2x


def test_small_faces_adds_the_tiles_to_a_streams_search():
    assert FaceDetector().search_frames(480, 640) == 6
    assert FaceDetector(small_faces=True).search_frames(480, 640) == 6 + 12
    assert FaceDetector("full").search_frames(480, 640) == 1


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_stream_finds_a_48_px_face_in_nearly_every_frame_where_full_alone_does_not(framing):
    """Clips of the shipped portrait with a 48 px face, still and drifting, after the search's first cycle."""
    detectors = {"multiscale": FaceDetector(), "full": FaceDetector("full")}
    rates = {}
    for name, detector in detectors.items():
        hits = []
        for index in range(4):
            detector.new_stream()
            clip = list(face_clip(framing, 48, index, 20))
            hits += [found(detector.detect(frame, stream=True), truth) for frame, truth, _ in clip][6:]
        rates[name] = np.mean(hits)
    assert rates["multiscale"] >= 0.97 and rates["full"] < 0.6, rates


def test_the_region_followed_moves_with_a_drifting_face():
    """A 64 px face drifting 1.5 px a frame, 45 px over the clip: after it is found, every frame looks at a
    region around where it is now (and finds it), not where it was first found."""
    detector = FaceDetector()
    clip = list(face_clip("whole-head", 64, 1, 30))
    first, last = clip[0][1], clip[-1][1]
    assert np.hypot(last[0] - first[0], last[1] - first[1]) > 40
    for number, (frame, truth, _) in enumerate(clip):
        followed = [follow_region(f.box, 480, 640) for f in detector.stream_plan.followed]
        assert found(detector.detect(frame, stream=True), truth)
        if number:
            (x, y, w, h), (fx, fy, fw, fh) = followed[0], truth
            assert x <= fx and y <= fy and fx + fw <= x + w and fy + fh <= y + h, (number, followed, truth)


def test_a_face_joining_a_followed_one_is_found_within_search_pace_cycles_of_the_search():
    """While a face is followed the search steps every ``SEARCH_PACE`` frames: a second face (the demo clip's,
    as it joins) is found within that many cycles (18 frames), and the first is followed all along."""
    face, wall, fps = sample_face(), backdrop(), 15.0
    joined = round(SECOND_FACE_AT_S * fps)
    alone, both = (demo_frame(face, wall, index, 75, fps) for index in (joined - 1, joined))
    detector = FaceDetector()
    assert [len(detector.detect(alone, stream=True)) for _ in range(6)][-1] == 1
    counts = [len(detector.detect(both, stream=True)) for _ in range(SEARCH_PACE * 6)]
    assert min(counts) >= 1 and counts[-1] == 2, counts


def test_on_a_stream_short_finds_the_close_face_full_drops():
    """Tightly framed faces as tall as the frame (a kiosk camera at arm's length) that ``full`` loses: the
    stream's search finds them with ``short`` on its second frame, and keeps them from then on."""
    frames = list(face_frames("tight", 480, 29))
    for frame, truth, _ in (frames[8], frames[28]):
        assert FaceDetector("full").detect(frame, stream=True) == []
        detector = FaceDetector()
        assert [found(detector.detect(frame, stream=True), truth) for _ in range(6)] == [False] + [True] * 5
