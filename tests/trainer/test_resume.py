"""What ``--resume`` reads: the run's saved settings, compared with the current ones (only those that shape
weights), and its training history, where an epoch trained again after a kill is logged twice."""

import json
from pathlib import Path

import pytest

from common.errors import UserError  # noqa: E402
from trainer.config import TrainerConfig  # noqa: E402
from trainer.figures import plot_training_curves, read_history  # noqa: E402
from trainer.runs import check_resumable  # noqa: E402

HEADER = "epoch,accuracy,loss,val_accuracy,val_macro_f1\n"


def saved_run(folder, edit) -> TrainerConfig:
    settings = TrainerConfig()
    saved = json.loads(settings.model_dump_json())
    edit(saved)
    (folder / "config.json").write_text(json.dumps(saved))
    return settings


def test_a_key_added_since_the_run_started_counts_as_its_default(tmp_path):
    def older_trainer(saved):  # written before train.average_last and the distill section existed
        del saved["train"]["average_last"], saved["distill"]

    check_resumable(tmp_path, saved_run(tmp_path, older_trainer))


def test_a_changed_setting_is_refused_by_name(tmp_path):
    def other_schedule(saved):
        saved["train"]["epochs"] += 10
        saved["train"]["out_dir"] = "/elsewhere"  # a moved run folder is not a change

    with pytest.raises(UserError, match=r"train\.epochs: 50 -> 40") as caught:
        check_resumable(tmp_path, saved_run(tmp_path, other_schedule))
    assert "out_dir" not in str(caught.value)


def test_training_on_other_data_is_refused_but_a_moved_dataset_is_not(tmp_path):
    """Resuming without the manifest would train the rest of the run on the duplicates and test copies the
    audit excluded; the same dataset at another path is the same data."""

    def cleaned_elsewhere(saved):
        saved["data_dir"], saved["manifest"] = "/old/place/fer2013-4class", "/old/place/manifest.csv"

    settings = saved_run(tmp_path, cleaned_elsewhere)
    settings.data_dir, settings.manifest = Path("/new/place/fer2013-4class"), Path("/new/place/manifest.csv")
    check_resumable(tmp_path, settings)
    settings.manifest = None
    with pytest.raises(UserError, match=r"data\.manifest: 'manifest\.csv' -> None"):
        check_resumable(tmp_path, settings)


def test_an_epoch_logged_twice_keeps_its_later_row(tmp_path):
    (tmp_path / "float").mkdir()
    (tmp_path / "float/history.csv").write_text(
        HEADER + "0,0.40,1.30,0.35,0.30\n1,0.50,1.20,0.45,0.40\n1,0.55,1.10,0.50,0.48\n2,0.60,1.00,0.55,0.52\n"
    )
    history = read_history(tmp_path / "float/history.csv")
    assert history["epoch"] == [0, 1, 2]
    assert history["val_macro_f1"] == [0.30, 0.48, 0.52]
    assert plot_training_curves(tmp_path).stat().st_size > 0


def test_early_stopping_counts_from_the_best_epoch_across_a_resume(tmp_path):
    """Killed after epoch 5 with its best at epoch 3 and patience 3: the resumed run stops after epoch 6,
    as an uninterrupted one would, not 3 epochs after the resume."""
    import tf_keras as keras

    from trainer.selection import SelectOnValidation

    class Scored(SelectOnValidation):
        def consider(self, name, record):  # the validation scores of the epochs, without a model to score
            score = scores.pop(0)
            self.best = max(self.best, score)
            return {"accuracy": score, "macro_f1": score}

    (tmp_path / "selected.json").write_text(json.dumps({"epoch": 3, "val_macro_f1": 0.8}))
    settings = TrainerConfig.model_validate({"train": {"patience": 3}})
    callback, scores = Scored(None, settings, tmp_path, None), [0.7, 0.75]
    callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    callback.model.stop_training = False
    callback.on_epoch_end(4, {})  # epoch 5, trained again from the backup
    assert not callback.model.stop_training
    callback.on_epoch_end(5, {})  # epoch 6: three epochs after the best
    assert callback.model.stop_training
