"""``edge annotate`` end to end on real files: a clip made from the sample face (edge.tools.annotate_demo), the
shipped int8 model, the CLI as a subprocess; the outputs read back with OpenCV and csv."""

import csv
import json
import os
import pty
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.drawing import EMOTION_COLOURS, TOO_SMALL_COLOUR, FaceMark, draw_marks
from edge.timeline import ABSENT, BAND_H, HEADER_H, LEFT, Timeline
from edge.tools.annotate_demo import demo_clip
from tests.support import LABELS, SAMPLES, box_drawn, edge_command, edge_config, run_edge

FPS = 15.0
SECONDS = 5.0  # the second face joins at 3 s
FRAMES = int(SECONDS * FPS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return demo_clip(tmp_path_factory.mktemp("clip") / "demo.mp4", SECONDS, FPS)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, clip, shipped_model) -> Path:
    """One run with the default settings, shared by the checks of its outputs."""
    folder = tmp_path_factory.mktemp("annotate")
    config = edge_config(folder, shipped_model, clip)
    result = run_edge("annotate", str(clip), "--config", str(config), "--out", str(folder / "out"))
    assert result.returncode == 0, result.stderr
    return folder / "out"


def read_rows(out: Path) -> list[dict]:
    with open(out / "faces.csv", newline="") as file:
        return list(csv.DictReader(file))


def read_frame(path: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"{path}: no frame {index}"
    return frame


def row_box(row: dict) -> tuple[int, int, int, int]:
    return tuple(int(row[key]) for key in ("x", "y", "w", "h"))


def test_annotated_video_keeps_every_frame_and_the_frame_rate(annotated):
    capture = cv2.VideoCapture(str(annotated / "annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 480)
    capture.release()


def test_each_face_is_boxed_in_its_emotion_colour_where_the_csv_says(annotated, clip):
    """The box pixels are in the annotated frame at the CSV's box, and the same check on the source frame
    (the same face, no annotation) fails: the check sees the drawing, not the face."""
    rows = read_rows(annotated)
    late = [row for row in rows if int(row["frame"]) == FRAMES - 5]
    assert len(late) == 2, late  # both faces, classified
    for row in late:
        colour = EMOTION_COLOURS[row["emotion"]]
        assert box_drawn(read_frame(annotated / "annotated.mp4", FRAMES - 5), row_box(row), colour)
        assert not box_drawn(read_frame(clip, FRAMES - 5), row_box(row), colour)


def test_csv_has_one_row_per_face_per_frame_with_scores_and_the_smoothed_emotion(annotated):
    rows = read_rows(annotated)
    assert list(rows[0]) == [
        "time_s",
        "frame",
        "face_id",
        "x",
        "y",
        "w",
        "h",
        *(f"scores.{c}" for c in LABELS),
        "emotion",
        "confidence",
    ]
    frames = [int(row["frame"]) for row in rows]
    assert frames == sorted(frames) and set(frames) <= set(range(FRAMES))
    assert len(set(frames)) >= 0.75 * FRAMES  # the detector misses some frames of the face at its smallest
    assert max(frames.count(frame) for frame in set(frames)) <= 2  # two faces: never more rows in a frame
    for row in rows:
        assert float(row["time_s"]) == pytest.approx(int(row["frame"]) / FPS, abs=1e-3)
        assert sum(float(row[f"scores.{c}"]) for c in LABELS) == pytest.approx(1, abs=0.03)
        assert row["emotion"] in LABELS and 0 < float(row["confidence"]) <= 1
    second_face = {row["face_id"] for row in rows if int(row["frame"]) >= 3 * FPS + 2 and int(row["y"]) < 150}
    assert len(second_face) == 1  # the mirrored face keeps one id from when it joins
    assert not [row for row in rows if int(row["frame"]) < 3 * FPS and int(row["y"]) < 150]


def test_summary_shares_and_changes_agree_with_the_csv(annotated):
    summary = json.loads((annotated / "summary.json").read_text())
    rows = read_rows(annotated)
    assert summary["frames"] == FRAMES and summary["fps"] == FPS and summary["labels"] == LABELS
    assert {str(face["face_id"]) for face in summary["faces"]} == {row["face_id"] for row in rows}
    for face in summary["faces"]:
        emotions = [row["emotion"] for row in rows if row["face_id"] == str(face["face_id"])]
        assert face["frames"] == len(emotions)
        assert face["changes"] == sum(a != b for a, b in zip(emotions, emotions[1:]))
        for label in LABELS:
            assert face["share"][label] == pytest.approx(emotions.count(label) / len(emotions), abs=1e-4)
        assert face["dominant"] == max(LABELS, key=emotions.count)
    markdown = (annotated / "summary.md").read_text()
    for face in summary["faces"]:
        assert f"\n| {face['face_id']} | {face['first_s']} |" in markdown


def test_timeline_png_has_a_band_per_face_in_the_emotion_colours(annotated):
    summary = json.loads((annotated / "summary.json").read_text())
    image = cv2.imread(str(annotated / "timeline.png"))
    assert image is not None and image.shape[1] == 1200
    first = summary["faces"][0]
    band = image[HEADER_H + BAND_H // 2, LEFT + 5 : LEFT + 100]  # the first face's row, early on
    assert np.all(np.abs(band.astype(int) - EMOTION_COLOURS[first["dominant"]][::-1]) < 10, axis=1).mean() > 0.9


def test_faces_under_min_face_px_are_marked_too_small_not_classified(tmp_path, clip, shipped_model):
    """With --min-face-px 75 the first face, in the middle third of the clip where it is smallest (boxes down to
    ~60 px), is "too small": no id, no scores, a gray box."""
    config = edge_config(tmp_path, shipped_model, clip)
    result = run_edge(
        "annotate", str(clip), "--config", str(config), "--out", str(tmp_path / "out"), "--min-face-px", "75"
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "out")
    small = [row for row in rows if row["emotion"] == "too_small"]
    assert len(small) >= 10 and all(int(row["h"]) <= 75 for row in small)  # h is rounded
    assert all(row["face_id"] == "" and row["scores.happy"] == "" and row["confidence"] == "" for row in small)
    assert all(int(row["h"]) >= 75 for row in rows if row["emotion"] != "too_small")
    row = small[len(small) // 2]
    assert box_drawn(read_frame(tmp_path / "out" / "annotated.mp4", int(row["frame"])), row_box(row), TOO_SMALL_COLOUR)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["too_small"] == len(small)


def test_a_folder_of_frames_takes_the_configured_frame_rate(tmp_path, shipped_model):
    config = edge_config(tmp_path, shipped_model, SAMPLES)
    result = run_edge("annotate", str(SAMPLES), "--config", str(config), "--out", str(tmp_path / "out"), "--fps", "2")
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(2)
    rows = read_rows(tmp_path / "out")
    assert len(rows) >= 3 and all(float(row["time_s"]) == int(row["frame"]) / 2 for row in rows)


def test_progress_bar_on_a_terminal_and_quiet_when_piped(tmp_path, clip, shipped_model):
    config = edge_config(tmp_path, shipped_model, clip)
    args = ["annotate", str(clip), "--config", str(config), "--out", str(tmp_path / "out")]
    piped = run_edge(*args)
    assert piped.returncode == 0 and "\r" not in piped.stderr and " left " not in piped.stderr
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        edge_command(*args),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm"},
        close_fds=True,
    )
    os.close(secondary)
    output = b""
    try:
        while chunk := os.read(primary, 4096):
            output += chunk
    except OSError:  # EIO: the child closed the terminal
        pass
    assert process.wait(60) == 0, output
    text = output.decode(errors="replace")
    assert f"frames [{'#' * 30}] {FRAMES}/{FRAMES} 0:00 left " in text and "/s" in text


@pytest.mark.parametrize(
    "make_source, message",
    [
        (lambda tmp: tmp / "missing.mp4", "no such camera, stream, video file or image folder"),
        (lambda tmp: (tmp / "notes.mp4").write_text("not a video") and tmp / "notes.mp4", "not a readable video file"),
        (lambda tmp: "rtsp://127.0.0.1:9/live", "a live camera or stream never ends"),
    ],
)
def test_a_bad_source_is_one_line_and_exit_2(tmp_path, emotion_model, make_source, message):
    config = edge_config(tmp_path, emotion_model, SAMPLES)
    result = run_edge("annotate", str(make_source(tmp_path)), "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def test_an_output_folder_that_cannot_be_made_or_a_codec_that_cannot_be_written_is_one_line(tmp_path, emotion_model):
    config = edge_config(tmp_path, emotion_model, SAMPLES)
    (tmp_path / "taken").write_text("a file, not a folder")
    result = run_edge("annotate", str(SAMPLES), "--config", str(config), "--out", str(tmp_path / "taken"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"edge: error: {tmp_path / 'taken'}: cannot create")
    result = run_edge(
        "annotate", str(SAMPLES), "--config", str(config), "--out", str(tmp_path / "out"), "--codec", "zzzz"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write 'zzzz' video" in result.stderr.strip().splitlines()[-1]


def test_timeline_leaves_the_time_a_face_was_away_blank():
    """A face tracked only in the first half: its band is coloured there and the "absent" gray after."""
    timeline = Timeline(LABELS, fps=10)
    for frame in range(100):
        if frame < 50:
            timeline.add(frame, 1, 0, np.array([0.9, 0.05, 0.03, 0.02]))
        timeline.frames = frame + 1
    image = timeline.image("test")
    row = image[HEADER_H + BAND_H // 2]
    width = image.shape[1] - LEFT - 24
    assert (row[LEFT + width // 4] == EMOTION_COLOURS["happy"][::-1]).all()
    assert (row[LEFT + 3 * width // 4] == ABSENT).all()
    assert timeline.summary()[0]["share"]["happy"] == 1.0 and timeline.summary()[0]["seen_s"] == 5.0


def test_boxes_and_labels_scale_with_the_frame_so_they_stay_legible():
    """The same mark on a 320x240 and a 1920x1080 frame: line and label grow with the frame height."""
    sizes = {}
    for width, height in ((320, 240), (1920, 1080)):
        image = np.zeros((height, width, 3), dtype=np.uint8)
        scale = height / 240
        box = (100 * scale, 100 * scale, 60 * scale, 60 * scale)
        draw_marks(image, [FaceMark(box, "#1 happy 0.93", EMOTION_COLOURS["happy"])])
        coloured = np.all(image == EMOTION_COLOURS["happy"][::-1], axis=2)
        left_edge = coloured[round(box[1] + box[3] / 2)]  # a row through the box's middle: its two sides
        chip_rows = np.flatnonzero(coloured[:, round(box[0] + 2)])  # a column through the chip and the box side
        sizes[height] = (int(left_edge[: round(box[0] + box[2] / 2)].sum()), int(round(box[1]) - chip_rows.min()))
    (line_small, chip_small), (line_large, chip_large) = sizes[240], sizes[1080]
    assert line_small >= 2 and line_large >= line_small + 2  # thickness 2 at 240 p (the least), 4 at 1080 p
    assert chip_small >= 10 and chip_large >= 3 * chip_small  # the label's chip grows with the text
