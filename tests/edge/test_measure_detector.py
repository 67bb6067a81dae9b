"""The detector benchmark on the shipped portrait with the real detector models: the table, the targets it
is there to check (at a small size: a few frames per face height), and one-line errors."""

import re

import cv2
import numpy as np
import pytest

from edge.bench.stream import background
from edge.detector import SPECS, BlazeFace, FaceDetector
from edge.tools.measure_detector import (
    DRIFT_PX,
    FACE_HEIGHTS,
    FRAMINGS,
    PORTRAITS,
    face_clip,
    face_frames,
    face_free_clip,
    face_free_frames,
    found,
    hands,
    main,
    read_hands,
)
from edge.tracker import iou_xywh


def table_rows(text: str) -> dict:
    """{(detector, framing): ([coverage % per height], false per frame)} from the markdown table."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == len(FACE_HEIGHTS) + 4 and cells[1] in FRAMINGS:
            coverage = [int(cell.rstrip(" %")) for cell in cells[2 : 2 + len(FACE_HEIGHTS)]]
            rows[cells[0], cells[1]] = coverage, float(cells[-2].split()[0])
    return rows


def test_multiscale_finds_faces_from_48_px_to_the_full_frame_where_full_alone_does_not(tmp_path, capsys):
    out = tmp_path / "table.md"
    detectors = ("multiscale", "full", "multiscale-stream", "full-stream")
    arguments = ["--frames", "6", "--face-free", "12", "--clips", "2", "--clip-frames", "12"]
    assert main(["--detectors", ",".join(detectors), *arguments, "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_text() == printed
    rows = table_rows(printed)
    assert set(rows) == {(d, f) for d in detectors for f in FRAMINGS}
    from_48 = FACE_HEIGHTS.index(48)
    for name in ("multiscale", "multiscale-stream"):  # a photo; a stream's frames after the search's first cycle
        for framing in FRAMINGS:
            coverage, false = rows[name, framing]
            assert min(coverage[from_48:]) >= 80, (name, framing, coverage)  # 6 frames: at most one miss
            assert false == 0
    for name in ("full", "full-stream"):  # what the squares are for: full on the whole frame misses 48 px faces
        assert max(rows[name, framing][0][from_48] for framing in FRAMINGS) < 80
    assert re.search(r"over 6 frames per framing and face height .* over 12 face-free frames", printed)
    assert re.search(
        r"over 2 clips of 12 frames per framing .* \(multiscale-stream: 6 frames, full-stream: 1 frame\)", printed
    )
    assert "over 12 face-free clips of 12 frames" in printed
    kinds = "| detector | texture | stripes | checkerboard | blobs | poster | portrait part | hands |"
    assert kinds in printed.splitlines()


def test_a_clip_stands_still_or_drifts_on_one_backdrop():
    still, drifting = (list(face_clip("tight", 64, index, 10)) for index in (0, 1))
    assert len({truth for _, truth, _ in still}) == 1 and len({truth for _, truth, _ in drifting}) == 10
    (x0, y0, *_), (x1, y1, *_) = drifting[0][1], drifting[-1][1]
    assert np.hypot(x1 - x0, y1 - y0) == pytest.approx(9 * DRIFT_PX)
    corner = [frame[:8, :8] for frame, _, _ in still]  # the backdrop, far from a face in the middle
    assert all((c == corner[0]).all() for c in corner)


def test_face_free_frames_take_every_kind_in_turn_real_hands_among_them():
    kinds = [kind for kind, _ in face_free_frames(14)]
    assert kinds[:7] == kinds[7:] and kinds[-1] == "hands" and len(set(kinds)) == 7
    photos = read_hands()
    assert len(photos) == 8 and all(photo[..., 3].min() == 0 and photo[..., 3].max() == 255 for photo in photos)
    for seed in range(4):  # one to three cut-out hands on the texture the same generator would draw
        frame, texture = hands(photos, np.random.default_rng(seed)), background(np.random.default_rng(seed))
        assert 0.002 < (frame != texture).any(-1).mean() < 0.8


def test_the_default_detector_finds_no_face_in_frames_of_hands():
    scenes = [scene for kind, scene in face_free_frames(7 * 6) if kind == "hands"]
    detector = FaceDetector()
    assert sum(len(detector.detect(scene)) for scene in scenes) == 0  # as photos
    for index, scene in enumerate(scenes):  # as a stream: still or panning, the whole search cycle
        detector.new_stream()
        assert sum(len(detector.detect(frame, True)) for frame in face_free_clip(scene, index, 8)) == 0


@pytest.mark.parametrize("model", sorted(SPECS))
@pytest.mark.parametrize("portrait", PORTRAITS, ids=lambda portrait: portrait.name)
def test_each_portraits_face_box_is_what_both_models_find(model, portrait):
    boxes, scores = BlazeFace(model, 0.7, 1).candidates(cv2.imread(str(portrait.path)))
    x1, y1, x2, y2 = boxes[scores.argmax()]
    assert iou_xywh((x1, y1, x2 - x1, y2 - y1), portrait.face) > 0.8


def test_the_portraits_take_turns_through_every_rotation_and_lighting():
    conditions = [condition for _, _, condition in face_frames("tight", 96, 60)]
    assert len(set(conditions)) == 5 * 3 * 2  # every angle x lighting for each portrait (twice: mirrored or not)
    assert {name for _, _, name in conditions} == {portrait.name for portrait in PORTRAITS}


def test_bad_arguments_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--detectors", "full,huge"])
    assert exit.value.code == 2
    assert (
        "full,huge: give one or more of full, short, multiscale, full-stream, multiscale-stream, multiscale-small, "
        "multiscale-small-stream" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as exit:
        main(["--frames", "0"])
    assert exit.value.code == 2 and "--frames: 0: not a whole number >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["--detectors", "multiscale-stream", "--clip-frames", "6"])
    assert exit.value.code == 2
    assert "--clip-frames 6: multiscale-stream counts only after its first 6 frames" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["--score-threshold", "1.5"])
    assert exit.value.code == 2 and "--score-threshold: 1.5: not a number between 0 and 1" in capsys.readouterr().err
    assert main(["--detectors", "short", "--frames", "1", "--face-free", "1", "--markdown", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"measure_detector: error: {tmp_path}: cannot write (Is a directory)"


def test_small_faces_finds_32_px_faces_full_on_the_whole_frame_mostly_misses():
    small, full = FaceDetector(small_faces=True), FaceDetector("full")
    for framing in FRAMINGS:
        frames = list(face_frames(framing, 32, 6))
        assert sum(found(small.detect(frame), truth) for frame, truth, _ in frames) >= 5, framing
        assert sum(found(full.detect(frame), truth) for frame, truth, _ in frames) <= 2, framing
