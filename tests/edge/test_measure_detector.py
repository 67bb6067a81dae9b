"""The detector measurement tool on a few real faces: a table, and one-line errors for the wrong folder."""

import shutil

import cv2
import pytest

from edge.tools.measure_detector import FACE_HEIGHTS, main
from tests.support import SAMPLES


def face_folders(root, unreadable: bool = False):
    """Two class folders of two images each: a bundled sample photo, as it is and in gray."""
    gray = cv2.imread(str(SAMPLES / "astronaut_1.jpg"), cv2.IMREAD_GRAYSCALE)
    for name in ("happy", "sad"):
        (root / name).mkdir(parents=True)
        shutil.copy(SAMPLES / "astronaut_1.jpg", root / name / "colour.jpg")
        cv2.imwrite(str(root / name / "gray.png"), gray)
    if unreadable:
        (root / "sad" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def test_a_table_row_per_model_with_recall_at_every_height(tmp_path, capsys):
    faces = face_folders(tmp_path / "test", unreadable=True)
    assert main([str(faces), "--per-class", "3", "--markdown", str(tmp_path / "out.md")]) == 0
    out, err = capsys.readouterr()
    assert "skipped 1 unreadable image(s), e.g. " in err and "broken.jpg" in err
    rows = [line for line in out.splitlines() if line.startswith(("| short", "| full"))]
    assert len(rows) == 2 and all(row.count("%") == len(FACE_HEIGHTS) for row in rows)
    assert "over 4 real faces" in (tmp_path / "out.md").read_text()


def test_a_folder_without_class_subfolders_or_a_bad_count_is_one_line(tmp_path, capsys):
    face_folders(tmp_path / "data" / "test")
    assert main([str(tmp_path / "data")]) == 2  # the dataset root, not a split
    assert capsys.readouterr().err.strip() == (f"measure_detector: error: {tmp_path / 'data'}: no face images in its "
                                               "class subfolders (give a split folder, e.g. fer2013-4class/test)")
    with pytest.raises(SystemExit) as exit:
        main([str(tmp_path / "data" / "test"), "--per-class", "0"])
    assert exit.value.code == 2
    assert "--per-class: 0: not a whole number >= 1" in capsys.readouterr().err
