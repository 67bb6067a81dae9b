"""What only the edge tests need; the shared parts (models, broker, subscriber, RTSP stream) are in
tests/conftest.py and tests/support.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support import SAMPLES, face_video


def sample_frames() -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(SAMPLES.glob("*.jpg"))]


@pytest.fixture
def video(tmp_path) -> Path:
    """30 frames of the sample face drifting two pixels a frame, so tracking has work to do."""
    return face_video(tmp_path / "face.avi", 30, drift=2)
