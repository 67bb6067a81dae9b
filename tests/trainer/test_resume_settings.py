"""``--resume`` compares the run's saved settings with the current ones, and only the ones that shape weights."""

import json
import os

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from edge.errors import UserError  # noqa: E402
from trainer.config import TrainerConfig  # noqa: E402
from trainer.train import check_resumable  # noqa: E402


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
