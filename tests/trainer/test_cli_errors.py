"""Bad input to ``trainer`` is one line on stderr and a non-zero exit, never a traceback."""

import pytest

from tests.synthetic import make_dataset, write_votes
from trainer.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A FER+-like dataset: the repository's config trains towards its votes."""
    return write_votes(make_dataset(tmp_path_factory.mktemp("data"), per_class=2))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and "Traceback" not in "\n".join(err)
    return err[-1]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--data", "{missing}", "--out", "{tmp}/run"], "data folder not found"),
        (["--config", "{tmp}/absent.yaml", "train"], "absent.yaml: config file not found"),
        (["evaluate", "{tmp}/nope.tflite", "--data", "{data}"], "nope.tflite: model not found"),
        (["evaluate", "{data}", "--data", "{data}"], "not a run folder"),
        (
            ["export", "--int8", "--run", "{tmp}/empty", "--data", "{data}"],
            "empty: not a run folder of 'trainer train'",
        ),
        (["train", "--data", "{tmp}/hollow", "--out", "{tmp}/run"], "hollow/train: no images in the class folders"),
        (["train", "--data", "{data}", "--manifest", "{tmp}/none.csv", "--out", "{tmp}/run"], "manifest not found"),
        (["eda", "{tmp}/hollow", "--out", "{tmp}/eda"], "hollow: no images in any <split>/<class> folder"),
        (["train", "--data", "{data}", "--out", "{tmp}/run"], "train split: 8 images, fewer than one batch"),
        (
            ["train", "--resume", "--data", "{data}", "--out", "{tmp}/empty"],
            "empty: nothing to resume (no config.json)",
        ),
        (
            ["train", "--data", "{data}", "--manifest", "{tmp}/other.csv", "--out", "{tmp}/run"],
            "other.csv: not a manifest (expected columns",
        ),
        (
            ["train", "--data", "{data}", "--manifest", "{tmp}/dropped.csv", "--out", "{tmp}/run"],
            "dropped.csv: no kept files for split 'train'",
        ),
        (
            ["train", "--data", "{data}", "--manifest", "{tmp}/empty", "--out", "{tmp}/run"],
            "empty: cannot read the manifest (IsADirectoryError",
        ),
        (
            ["evaluate", "{tmp}/foreign", "--data", "{data}"],
            "foreign/config.json: not the settings of a 'trainer train' run",
        ),
        (["evaluate", "{tmp}/truncated", "--data", "{data}"], "truncated/config.json: unreadable (JSONDecodeError"),
        (
            ["train", "--data", "{data}", "--manifest", "{tmp}/binary.csv", "--out", "{tmp}/run"],
            "binary.csv: cannot read the manifest (UnicodeDecodeError",
        ),
    ],
)
def test_bad_input_is_one_line(argv, expected, data, tmp_path, capsys):
    values = {"missing": tmp_path / "missing", "tmp": tmp_path, "data": data}
    (tmp_path / "empty").mkdir()
    (tmp_path / "other.csv").write_text("file,label\ntrain/happy/0.jpg,happy\n")
    (tmp_path / "dropped.csv").write_text("split,label,path,keep,reason\ntrain,happy,train/happy/0.jpg,0,duplicate\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xd8\xff\xe0 a JPEG, not a manifest")
    for name, text in (("foreign", '{"architectures": ["BertModel"]}'), ("truncated", '{"classes": ["happy", ')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text)
    for split in ("train", "validation", "test"):
        for label in ("happy", "neutral", "sad", "surprise"):
            (tmp_path / "hollow" / split / label).mkdir(parents=True)
    assert main([a.format(**values) for a in argv]) == 2
    line = one_line_error(capsys)
    assert expected in line and line.startswith("trainer: error:")


def test_other_data_than_the_configured_drops_its_manifest_and_says_so(data, tmp_path, capsys):
    """The configured manifest lists the configured dataset's files; never dropped silently."""
    config = tmp_path / "config.yaml"
    config.write_text(f"trainer:\n  data_dir: {tmp_path / 'elsewhere'}\n  manifest: {tmp_path / 'manifest.csv'}\n")
    assert main(["--config", str(config), "train", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"--data {data} is not the configured dataset; its manifest manifest.csv is not used" in err
    assert "train split: 8 images, fewer than one batch" in err  # and it went on without the manifest


def test_init_weights_that_are_not_weights_is_one_line(data, tmp_path, capsys):
    (tmp_path / "photo.h5").write_bytes(b"\xff\xd8\xff\xe0 a JPEG under another name")
    config = tmp_path / "config.yaml"
    config.write_text(f"trainer:\n  train:\n    init_weights: {tmp_path / 'photo.h5'}\n")
    argv = ["--config", str(config), "train", "--data", str(data), "--batch-size", "4", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "photo.h5: not weights of this" in one_line_error(capsys)


def test_missing_class_folder_is_named(data, tmp_path, capsys):
    (data / "train" / "sad").rename(tmp_path / "sad-moved")
    try:
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
        assert "train/sad: class folder not found" in one_line_error(capsys)
    finally:
        (tmp_path / "sad-moved").rename(data / "train" / "sad")


def test_an_empty_image_file_or_class_is_named(data, tmp_path, capsys):
    """A zero-byte JPEG (OpenCV asserts on an empty buffer) and a class folder with no images."""
    empty = data / "train" / "sad" / "zero.jpg"
    empty.write_bytes(b"")
    try:
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
        assert "zero.jpg: cannot decode image" in one_line_error(capsys)
    finally:
        empty.unlink()
    moved = tmp_path / "sad-images"
    (data / "validation" / "sad").rename(moved)
    (data / "validation" / "sad").mkdir()
    try:
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
        assert "validation: no images of class sad" in one_line_error(capsys)
    finally:
        (data / "validation" / "sad").rmdir()
        moved.rename(data / "validation" / "sad")
