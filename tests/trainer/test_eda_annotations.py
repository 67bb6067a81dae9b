"""``trainer eda`` on a FER+-like dataset: annotator agreement from ``votes.csv``, FER2013-vs-FER+ labels from the
match file, and both copies' pixels, each counted exactly on tiny synthetic files; a dataset without them is
audited as before."""

import csv
import json

import cv2
import numpy as np
import pytest

from tests.synthetic import make_dataset
from trainer.cli import main
from trainer.eda import caption

VOTE_HEADER = [
    "split",
    "path",
    "majority",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
]
MATCH_HEADER = [
    "split",
    "fer2013_path",
    "fer2013_label",
    "ferplus_image",
    "ferplus_path",
    "ferplus_majority",
    "distance",
]
NO_VOTES = "train/sad/sad_0002.jpg"


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_votes(data):
    """Image k of every class folder gets 10 - k votes for its class (10, 9, 8), the rest for anger; one
    image has no row."""
    rows = []
    for image in sorted(data.glob("*/*/*.jpg")):
        path = image.relative_to(data).as_posix()
        if path == NO_VOTES:
            continue
        split, label = path.split("/")[:2]
        own = 10 - int(image.stem[-1])
        votes = dict.fromkeys(VOTE_HEADER[3:], 0)
        votes[{"happy": "happiness", "sad": "sadness"}.get(label, label)] = own
        votes["anger"] = 10 - own
        rows.append([split, path, label, *votes.values()])
    write_csv(data / "votes.csv", VOTE_HEADER, rows)


def write_fer2013_copy(data, other):
    """Every test face histogram-equalised into the FER2013 copy, filed as FER2013 would: FER+'s neutral faces
    as sad (FER2013's commonest disagreement); plus a face FER+ files under no class, a far pair and a FER2013 label
    outside the classes."""
    rows = []
    for image in sorted((data / "test").glob("*/*.jpg")):
        label = image.parent.name
        fer2013 = f"test/{label}/PrivateTest_{image.stem}.jpg"
        (other / fer2013).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(other / fer2013), cv2.equalizeHist(cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)))
        path = image.relative_to(data).as_posix()
        rows.append(["test", fer2013, "sad" if label == "neutral" else label, image.name, path, label, 1.0])
    rows.append(["train", "train/happy/Training_1.jpg", "happy", "fer1.png", "", "", 0.5])  # FER+: another emotion
    rows.append(["train", "train/happy/Training_2.jpg", "happy", "fer2.png", "train/sad/sad_0000.jpg", "sad", 120.0])
    rows.append(["train", "train/angry/Training_3.jpg", "angry", "fer3.png", "train/sad/sad_0001.jpg", "sad", 2.0])
    write_csv(data / "fer2013-4class-match.csv", MATCH_HEADER, rows)


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    root = tmp_path_factory.mktemp("ferplus")
    data = make_dataset(root / "ferplus-4class", per_class=3)
    write_votes(data)
    write_fer2013_copy(data, root / "fer2013-4class")
    out = root / "report"
    code = main(["eda", str(data), "--out", str(out), "--no-label-noise"])
    return code, out, json.loads((out / "summary.json").read_text())


def test_vote_agreement_per_class(audit):
    code, out, summary = audit
    assert code == 0
    votes = summary["vote_agreement"]
    assert votes["images_without_votes"] == 1 and votes["annotators_per_image"] == {"10": 35}
    assert votes["per_class"]["happy"] == {"images": 9, "mean_agreeing": 9.0, "histogram": {"8": 3, "9": 3, "10": 3}}
    assert votes["per_class"]["sad"]["histogram"] == {"8": 2, "9": 3, "10": 3}  # sad_0002 of train has no votes
    report = (out / "report.md").read_text()
    assert "| happy | 9 | 9.0 | 33% | 100% | 0% |" in report and "1 image(s) have no row in `votes.csv`" in report
    assert (out / "vote_agreement.png").stat().st_size > 0


def test_fer2013_against_ferplus_labels(audit):
    _, out, summary = audit
    labels = summary["label_agreement"]
    assert labels["pairs_in_file"] == 15 and labels["pairs"] == 14  # the far pair (120) is not the same face
    assert labels["pairs_with_fer2013_label_outside"] == 1
    assert labels["columns"] == ["happy", "neutral", "sad", "surprise", "other"]
    assert labels["counts"] == [[3, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 3, 3, 0, 0], [0, 0, 0, 3, 0]]
    assert labels["agreement"] == round(9 / 13, 4)  # happy 3 of 4, sad 3 of 6, surprise 3 of 3
    report = (out / "report.md").read_text()
    assert "| **sad** | 0 (0%) | 3 (50%) | 3 (50%) | 0 (0%) | 0 (0%) | 6 |" in report
    assert (out / "label_agreement.png").stat().st_size > 0


def test_pixels_of_both_copies(audit):
    _, out, summary = audit
    copies = summary["copies"]
    assert copies["found"] and copies["pairs_sampled"] == 13 and copies["pairs_unreadable"] == 1  # Training_3.jpg
    this, paired = copies["this_copy"], copies["paired_copy"]
    assert this["images"] == paired["images"] == 12
    root = out.parent
    ours = np.stack(
        [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((root / "ferplus-4class/test").glob("*/*.jpg"))]
    )
    theirs = np.stack(
        [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((root / "fer2013-4class/test").glob("*/*.jpg"))]
    )
    for stats, pixels in ((this, ours), (paired, theirs)):
        assert stats["mean"] == round(float(pixels.mean()), 1) and stats["std"] == round(float(pixels.std()), 1)
    assert paired["std"] > this["std"]  # equalised: spread over 0..255
    assert len(this["histogram"]) == 64 and len(this["image_std_histogram"]) == 32
    assert (out / "copy_pixels.png").stat().st_size > 0


def test_annotation_files_are_not_stray_files(audit):
    _, _, summary = audit
    assert not [finding for finding in summary["layout"] if finding["path"].endswith(".csv")]


def test_a_dataset_without_annotations_audits_as_before(tmp_path):
    data = make_dataset(tmp_path / "plain", per_class=2)
    assert main(["eda", str(data), "--out", str(tmp_path / "report"), "--no-label-noise"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["vote_agreement"] is None and summary["label_agreement"] is None and summary["copies"] is None
    assert "## Annotations" not in (tmp_path / "report" / "report.md").read_text()
    assert not list((tmp_path / "report").glob("vote_agreement.png"))


def test_a_missing_paired_copy_is_said_not_guessed(tmp_path):
    data = make_dataset(tmp_path / "ferplus-4class", per_class=2, splits=("train", "validation", "test"))
    write_fer2013_copy(data, tmp_path / "elsewhere")
    assert main(["eda", str(data), "--out", str(tmp_path / "report"), "--no-label-noise"]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"The paired copy `{tmp_path / 'fer2013-4class'}` is not there" in report
    assert (
        "### FER2013 labels against the FER+ majority" in report
        and not (tmp_path / "report" / "copy_pixels.png").exists()
    )


@pytest.mark.parametrize(
    "name, header, row, expected",
    [
        (
            "votes.csv",
            VOTE_HEADER[:6],
            ["train", "train/happy/happy_0000.jpg", "happy", 0, 10, 0],
            "votes.csv: no column sadness",
        ),
        (
            "fer2013-4class-match.csv",
            MATCH_HEADER,
            ["test", "a.jpg", "happy", "f.png", "test/happy/happy_0000.jpg", "happy", "near"],
            "fer2013-4class-match.csv: cannot read the matches (ValueError",
        ),
    ],
)
def test_a_malformed_annotation_file_is_one_line(tmp_path, capsys, name, header, row, expected):
    data = make_dataset(tmp_path / "data", per_class=1)
    write_csv(data / name, header, [row])
    assert main(["eda", str(data), "--out", str(tmp_path / "report"), "--no-label-noise"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err) and err[-1].startswith("trainer: error:") and expected in err[-1]


def test_a_montage_caption_keeps_the_models_guess():
    text = caption("train/surprise/Training_85955938.jpg", "labelled surprise, model says neutral")
    assert text.splitlines() == ["train/surprise/", "…ning_85955938.jpg", "labelled surprise", "model says neutral"]
    long = caption("train/happy/a.jpg", "exact copy of validation/happy/PublicTest_123456789.jpg")
    assert max(len(line) for line in long.splitlines()) <= 24 and len(long.splitlines()) == 4
