"""``trainer eda`` on a small synthetic dataset seeded with one example of every problem it must find."""

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.synthetic import make_dataset
from trainer.cli import main

CONFIG = """
trainer:
  data_dir: {data}
  eda: {{out_dir: {out}, near_duplicate_bits: 1, folds: 3}}
"""


def seed_problems(data: Path) -> None:
    """Plant one of each problem; names say what they are so assertions read plainly."""
    good = (data / "train/happy/happy_0000.jpg").read_bytes()
    (data / "train/sad/truncated.jpg").write_bytes(good[: len(good) // 2])
    (data / "train/sad/not_really.jpg").write_bytes(b"this is not a jpeg")
    face = cv2.imread(str(data / "train/neutral/neutral_0001.jpg"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(data / "train/neutral/too_big.jpg"), cv2.resize(face, (64, 64))[:, ::-1])
    (data / "train/happy/notes.txt").write_text("hello")
    (data / "extras").mkdir()
    (data / "train/angry").mkdir()
    shutil.copy(data / "train/neutral/neutral_0003.jpg", data / "train/neutral/copy_of_3.jpg")
    test_face = cv2.imread(str(data / "test/surprise/surprise_0002.jpg"), cv2.IMREAD_GRAYSCALE)
    brighter = np.clip(test_face.astype(int) + 6, 0, 255).astype(np.uint8)
    cv2.imwrite(str(data / "train/surprise/leaked.jpg"), brighter, [cv2.IMWRITE_JPEG_QUALITY, 80])
    cv2.imwrite(str(data / "validation/sad/blank.jpg"), np.full((48, 48), 90, np.uint8))
    shutil.rmtree(data / "validation/neutral")


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    root = tmp_path_factory.mktemp("eda")
    data = make_dataset(root / "data", per_class=10)
    seed_problems(data)
    config = root / "config.yaml"
    config.write_text(CONFIG.format(data=data, out=root / "report"))
    code = main(["--config", str(config), "eda"])
    out = root / "report"
    findings = {}
    with (out / "findings.csv").open() as handle:
        for row in csv.DictReader(handle):
            findings.setdefault(row["path"], set()).add(row["reason"])
    with (out / "manifest.csv").open() as handle:
        manifest = {row["path"]: row for row in csv.DictReader(handle)}
    return code, out, findings, manifest, json.loads((out / "summary.json").read_text())


def test_exit_code_and_outputs(audit):
    code, out, *_ = audit
    assert code == 0
    for name in (
        "report.md",
        "report.html",
        "summary.json",
        "manifest.csv",
        "class_counts.png",
        "samples_per_class.png",
        "mean_face_per_class.png",
        "intensity_per_class.png",
        "problem_leak.png",
        "problem_duplicate.png",
        "problem_blank.png",
        "problem_wrong_format.png",
    ):
        assert (out / name).stat().st_size > 0, name


def test_integrity_findings(audit):
    _, _, findings, _, summary = audit
    assert "corrupt" in findings["train/sad/truncated.jpg"]
    assert "corrupt" in findings["train/sad/not_really.jpg"]
    assert "wrong_format" in findings["train/neutral/too_big.jpg"]
    assert "not_image" in findings["train/happy/notes.txt"]
    layout = {(f["path"], f["reason"]) for f in summary["layout"]}
    assert {
        ("extras", "unknown_folder"),
        ("train/angry", "unknown_folder"),
        ("validation/neutral", "missing_class"),
    } <= layout
    assert summary["counts"]["validation"]["neutral"] == 0


def test_duplicates_leaks_and_blanks(audit):
    _, _, findings, _, summary = audit
    copies = ("train/neutral/copy_of_3.jpg", "train/neutral/neutral_0003.jpg")
    assert sum("duplicate" in findings.get(path, set()) for path in copies) == 1
    assert "leak" in findings["train/surprise/leaked.jpg"]
    assert "test/surprise/surprise_0002.jpg" not in findings
    assert "blank" in findings["validation/sad/blank.jpg"]
    assert summary["duplicates"]["exact_pairs"]["train"] == 1
    assert summary["duplicates"]["leak_files_dropped"] == {"train": 1}


def test_manifest(audit):
    _, _, _, manifest, summary = audit
    assert (
        manifest["train/sad/truncated.jpg"]["keep"] == "0"
        and manifest["train/sad/truncated.jpg"]["reason"] == "corrupt"
    )
    assert manifest["train/neutral/too_big.jpg"]["keep"] == "1"  # reported, but kept: training converts it
    assert summary["integrity"]["wrong_format"] == 1
    assert manifest["train/surprise/leaked.jpg"]["reason"] == "leak"
    assert manifest["validation/sad/blank.jpg"]["reason"] == "blank"
    assert manifest["train/happy/notes.txt"]["keep"] == "0"
    assert manifest["test/surprise/surprise_0002.jpg"]["keep"] == "1"
    kept_copies = [manifest[p]["keep"] for p in ("train/neutral/copy_of_3.jpg", "train/neutral/neutral_0003.jpg")]
    assert sorted(kept_copies) == ["0", "1"]
    assert all(row["keep"] == "1" for path, row in manifest.items() if path.startswith("test/"))
    assert summary["manifest"]["excluded"] == 6  # 2 corrupt, duplicate, leak, blank, notes.txt
    assert summary["label_noise"]["scored"] > 0


def test_missing_data_dir_is_one_line_error(tmp_path, capsys):
    code = main(["eda", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "data folder not found" in err and "Traceback" not in err


def test_a_dataset_of_symlinks_is_audited_under_its_own_paths(tmp_path):
    """Files linked into place from a pool (DVC, ``cp -s``) keep the dataset's own paths in the manifest."""
    pool = make_dataset(tmp_path / "pool", per_class=3)
    linked = tmp_path / "linked"
    for image in pool.glob("*/*/*.jpg"):
        target = linked / image.relative_to(pool)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(image)
    assert main(["eda", str(linked), "--out", str(tmp_path / "report"), "--no-label-noise"]) == 0
    with (tmp_path / "report" / "manifest.csv").open() as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert len(paths) == 36 and all(path.split("/")[0] in ("train", "validation", "test") for path in paths)
