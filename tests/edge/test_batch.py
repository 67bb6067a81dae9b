"""``edge run --source PHOTOS``: every face of every photo once, no tracking across files, errors per file.

Real parts: the shipped emotion model, the real detector models, photos written here from the bundled
public-domain portrait (several copies with the face at the same place: exactly what the tracker used to
join into one face reported once), an image with two faces, one with none, and a broken file.
"""

import csv
import io
import json
import shutil

import cv2
import numpy as np

from edge.batch import record_columns
from edge.progress import Progress
from tests.support import SAMPLES, edge_config, run_edge


def photo_folder(root):
    """Five copies of one portrait (same face, same place), one two-face photo, one blank, one broken file."""
    root.mkdir()
    for index in range(5):
        shutil.copy(SAMPLES / "astronaut_2.jpg", root / f"copy_{index}.jpg")
    portrait = cv2.imread(str(SAMPLES / "astronaut_2.jpg"))[:, 78:560]
    cv2.imwrite(str(root / "pair.png"), np.hstack([portrait, portrait[:, ::-1]]))
    cv2.imwrite(str(root / "wall.png"), np.full((240, 320, 3), 120, np.uint8))
    (root / "broken.jpg").write_bytes(b"\xff\xd8 cut short")
    (root / "notes.txt").write_text("not an image: ignored, as before")
    return root


def run_photos(tmp_path, model, *args):
    config = edge_config(tmp_path, model, str(SAMPLES))
    return run_edge("run", "--config", str(config), *args, timeout=120)


def test_every_face_of_every_photo_is_one_jsonl_record(tmp_path, shipped_model):
    photos = photo_folder(tmp_path / "photos")
    result = run_photos(tmp_path, shipped_model, "--source", str(photos))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_file = {}
    for record in records:
        by_file.setdefault(record["file"], []).append(record)
    assert sorted(by_file) == ["broken.jpg", *(f"copy_{i}.jpg" for i in range(5)), "pair.png", "wall.png"]
    for index in range(5):  # the same face at the same place: reported once per file, not once per run
        (record,) = by_file[f"copy_{index}.jpg"]
        assert record["faces"] == 1 and record["face"] == 0 and record["error"] is None
        assert record["emotion"] == max(record["scores"], key=record["scores"].get)
        assert abs(record["bbox"]["x"] - 245) < 10 and abs(record["bbox"]["h"] - 92) < 10
    assert [(r["faces"], r["face"]) for r in by_file["pair.png"]] == [(2, 0), (2, 1)]
    assert abs(by_file["pair.png"][0]["bbox"]["x"] - by_file["pair.png"][1]["bbox"]["x"]) > 200
    (wall,) = by_file["wall.png"]
    assert wall["faces"] == 0 and wall["emotion"] is None and wall["error"] is None
    (broken,) = by_file["broken.jpg"]
    assert broken["faces"] is None and "not an image OpenCV can decode" in broken["error"]
    assert {tuple(r) for r in records} == {tuple(records[0])}  # the same fields in every record
    assert "broken.jpg" in result.stderr and "8 image(s): 7 face(s), 1 without a face, 1 unreadable" in result.stderr
    assert "\r" not in result.stderr and "Traceback" not in result.stderr  # no progress bar into a pipe


def test_csv_to_a_file_from_the_config_and_a_single_image(tmp_path, shipped_model):
    extra = f"  batch:\n    format: csv\n    output: {tmp_path / 'faces.csv'}\n"
    config = edge_config(tmp_path, shipped_model, str(SAMPLES), extra=extra)
    result = run_edge("run", "--config", str(config), "--source", str(SAMPLES / "astronaut_4.jpg"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    with open(tmp_path / "faces.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    labels = json.loads(shipped_model.with_suffix(".json").read_text())["labels"]
    assert list(rows[0]) == record_columns(labels)
    (row,) = rows
    assert row["file"] == "astronaut_4.jpg" and row["faces"] == "1" and 40 <= int(row["bbox.h"]) <= 56
    assert abs(sum(float(row[f"scores.{label}"]) for label in labels) - 1) < 0.05


def test_skip_takes_each_image_as_the_face(tmp_path, shipped_model):
    """Face crops (a dataset's, or photos already cropped): no detector, the whole image is classified."""
    crops = tmp_path / "crops"
    crops.mkdir()
    gray = cv2.imread(str(SAMPLES / "astronaut_1.jpg"), cv2.IMREAD_GRAYSCALE)[90:230, 210:350]
    cv2.imwrite(str(crops / "face.png"), cv2.resize(gray, (48, 48)))
    cv2.imwrite(str(crops / "wall.png"), np.full((48, 48), 120, np.uint8))
    result = run_photos(tmp_path, shipped_model, "--source", str(crops), "--detector", "skip", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["file"], r["faces"], r["bbox.w"], r["bbox.h"]) for r in rows] == [
        ("face.png", "1", "48", "48"),
        ("wall.png", "1", "48", "48"),
    ]


def test_unwritable_output_and_a_batch_among_cameras_are_one_line(tmp_path, shipped_model, video):
    result = run_photos(tmp_path, shipped_model, "--source", str(SAMPLES), "--output", str(tmp_path / "no" / "x.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"edge: error: {tmp_path}/no/x.csv: cannot write the records there (No such file or directory)"
    )
    two = tmp_path / "two.yaml"
    two.write_text(
        f"edge:\n  model: {shipped_model}\n  cameras:\n    - {{name: door, source: {video}}}\n"
        f"    - {{name: photos, source: {SAMPLES}, batch: true}}\n"
    )
    result = run_edge("run", "--config", str(two), "--stdout")
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "edge: error: camera photos: a photo batch runs alone (pass --camera photos)"
    )
    result = run_edge("run", "--config", str(two), "--camera", "photos")  # no broker needed for a batch
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_a_video_source_keeps_its_tracked_events(tmp_path, shipped_model, video):
    """The batch is for photos only: a video's frames are one scene, tracked, reported on appear/change."""
    result = run_photos(tmp_path, shipped_model, "--source", str(video), "--stdout")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["reason"] == "appeared" and events[0]["frame"] == 0
    assert len({e["face_id"] for e in events}) == 1 and len(events) < 30  # one track, not one line per frame
    refused = run_photos(tmp_path, shipped_model, "--source", str(video), "--stdout", "--format", "csv")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        "edge: error: --format/--output are for photos (an image folder or file as --source); "
        "a video's or camera's events go to MQTT or --stdout"
    )


def test_the_live_view_is_refused_for_photos_not_ignored(tmp_path, shipped_model):
    """A batch has no stream to show: ``--preview`` is an error naming the source, and the file's
    ``edge.preview.enabled`` (meant for the daemon's cameras) is set aside with a warning."""
    photo = tmp_path / "face.jpg"
    shutil.copy(SAMPLES / "astronaut_2.jpg", photo)
    refused = run_photos(tmp_path, shipped_model, "--source", str(photo), "--preview")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines()[-1] == (
        f"edge: error: --preview: {photo} is a photo batch (an image folder or file), which has no live view; "
        "the live view is for cameras, streams and video files"
    )
    config = edge_config(tmp_path, shipped_model, str(SAMPLES), extra="  preview:\n    enabled: true\n")
    result = run_edge("run", "--config", str(config), "--source", str(photo), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"edge.preview.enabled: no live view for the photo batch {photo}" in result.stderr
    assert json.loads(result.stdout.splitlines()[0])["file"] == "face.jpg"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_draws_on_a_terminal_only():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with Progress(3, "photos", stream) as progress:
            for _ in range(3):
                progress.step()
    drawn = terminal.getvalue()
    assert drawn.startswith("\rphotos [") and "[" + "#" * 30 + "] 3/3 " in drawn and drawn.endswith("/s\n")
    assert pipe.getvalue() == ""
