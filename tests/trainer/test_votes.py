"""Soft labels from FER+'s ten annotators: loading, class mapping, errors, and their use as training targets."""

import numpy as np
import pytest

from common.errors import UserError
from tests.synthetic import make_dataset
from trainer.config import TrainerConfig
from trainer.pipeline import load_split, training_dataset
from trainer.votes import vote_targets

HEADER = "split,path,majority,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
CLASSES = ["happy", "neutral", "sad", "surprise"]


def write_votes(data_dir, rows):
    (data_dir / "votes.csv").write_text(HEADER + "".join(rows))


def test_vote_shares_in_class_order_without_other_emotions(tmp_path):
    files = [tmp_path / "train/sad/a.png", tmp_path / "train/happy/b.png"]
    write_votes(
        tmp_path,
        ["train,train/sad/a.png,sad,4,0,0,5,1,0,0,0,0,0\n", "train,train/happy/b.png,happy,0,10,0,0,0,0,0,0,0,0\n"],
    )
    targets = vote_targets(tmp_path, files, CLASSES)
    # neutral 4, sadness 5 of the 9 votes for the four classes (the anger vote is left out)
    assert np.allclose(targets[0], [0, 4 / 9, 5 / 9, 0]) and np.allclose(targets[1], [1, 0, 0, 0])
    assert np.allclose(vote_targets(tmp_path, files, ["sad", "neutral", "happy", "surprise"])[0], [5 / 9, 4 / 9, 0, 0])


def test_missing_votes_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="votes.csv: votes file not found"):
        vote_targets(tmp_path, [tmp_path / "train/sad/a.png"], CLASSES)
    write_votes(tmp_path, ["train,train/sad/a.png,sad,4,0,0,5,1,0,0,0,0,0\n"])
    with pytest.raises(UserError, match="no votes for train/sad/other.png"):
        vote_targets(tmp_path, [tmp_path / "train/sad/other.png"], CLASSES)
    write_votes(tmp_path, ["train,train/sad/a.png,sad,0,0,0,0,9,1,0,0,0,0\n"])
    with pytest.raises(UserError, match="has no votes for any of"):
        vote_targets(tmp_path, [tmp_path / "train/sad/a.png"], CLASSES)
    (tmp_path / "votes.csv").write_text("path,neutral\nx,1\n")
    with pytest.raises(UserError, match="no column happiness"):
        vote_targets(tmp_path, [tmp_path / "x"], CLASSES)


def test_the_training_pipeline_trains_towards_the_votes(tmp_path):
    data = tmp_path / "data"
    make_dataset(data, per_class=4)
    files = sorted((data / "train").glob("*/*.jpg"))
    rows = []
    for path in files:  # two votes for the folder's class, one each for neutral and sadness, whatever the folder
        votes = {"neutral": 1, "happiness": 0, "surprise": 0, "sadness": 1}
        votes[{"happy": "happiness", "sad": "sadness"}.get(path.parent.name, path.parent.name)] += 2
        rows.append(
            f"train,{path.relative_to(data).as_posix()},{path.parent.name},{votes['neutral']},{votes['happiness']},"
            f"{votes['surprise']},{votes['sadness']},0,0,0,0,0,0\n"
        )
    write_votes(data, rows)
    settings = TrainerConfig.model_validate({"data_dir": str(data), "train": {"targets": "votes", "batch_size": 4}})
    train = load_split(settings, "train", preprocess="none", targets=True)
    assert train.targets.shape == (len(files), 4) and np.allclose(train.targets.sum(1), 1)
    happy = files.index(next(f for f in files if f.parent.name == "happy"))
    assert np.allclose(train.targets[happy], [0.5, 0.25, 0.25, 0])  # happiness 2, neutral 1, sadness 1
    _, targets = next(iter(training_dataset(train, 4, settings.train, "equalize_hist")))
    assert targets.shape == (4, 4)
    for row in targets.numpy():  # each target is some face's vote shares, never a one-hot label
        assert np.isclose(np.abs(train.targets - row).sum(1), 0, atol=1e-6).any() and row.max() < 1
