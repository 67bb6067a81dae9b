"""Fixtures for the whole suite. Datasets are synthetic (tests/synthetic.py), so nothing needs ../shared."""

import pytest


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch):
    """Each test's daemons keep their outbox in the test's own folder, never in the real home
    (subprocesses inherit the variable), so a leftover queue can't leak into the next test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
