"""What a clone carries: weights only where a rebuild needs them, and a run folder that works on any machine."""

import json
import subprocess

import pytest

from tests.support import MODELS, REPO

MAX_TRACKED_BYTES = 5 * 1024 * 1024


def tracked_files() -> list[str]:
    result = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in result.stdout.decode().split("\0") if name]


def test_no_large_file_is_tracked_outside_the_shipped_run_folder():
    """Model weights over 5 MB belong only in the shipped model's run folder (what its rebuild needs), never
    beside the code, the reports or the shipped models, and no other run's folder is kept."""
    run = json.loads((MODELS / "emotion_int8.json").read_text())["run"]
    large = [
        name
        for name in tracked_files()
        if not name.startswith(f"checkpoints/{run}/")
        and (REPO / name).is_file()
        and (REPO / name).stat().st_size > MAX_TRACKED_BYTES
    ]
    assert large == []
    other_runs = {name.split("/")[1] for name in tracked_files() if name.startswith("checkpoints/")} - {run}
    assert other_runs == set()


def test_the_shipped_models_run_folder_is_kept_and_portable():
    """``trainer export --int8 --run checkpoints/<run>`` rebuilds the shipped model: the contract's run folder
    is tracked, with its float and QAT weights, and its config.json names no path of the machine it ran on."""
    run = json.loads((MODELS / "emotion_int8.json").read_text())["run"]
    folder = REPO / "checkpoints" / run
    tracked = set(tracked_files())
    for part in ("config.json", "float/best.weights.h5", "qat/best.weights.h5"):
        assert f"checkpoints/{run}/{part}" in tracked, part

    def paths(value):
        if isinstance(value, dict):
            return [p for v in value.values() for p in paths(v)]
        if isinstance(value, list):
            return [p for v in value for p in paths(v)]
        return [value] if isinstance(value, str) and value.startswith("/") else []

    assert paths(json.loads((folder / "config.json").read_text())) == []
    assert not (folder / "float/backup").exists(), "no optimizer state in the kept run folder"
