"""Emotion events: when a face's state is worth a message, and what the message says.

A message goes out when a face appears, when its smoothed emotion changes, and (``events.heartbeat_s``)
every N seconds while it stays, so a consumer that joins late still learns the current state. Appearing
is reported on the face's first frame: a face in view for half a second always yields an event.

Payload (JSON), published to ``{topic_prefix}/{device}/{camera}/event``::

    {"ts": "2025-01-01T12:00:00.000+00:00", "device": "edge-1", "camera": "door", "frame": 42,
     "face_id": 3, "emotion": "happy", "confidence": 0.91, "scores": {"happy": 0.91, ...},
     "bbox": [x, y, w, h], "reason": "appeared"}

plus ``"snapshot"`` (base64 JPEG of the gray face crop) only when ``events.snapshots`` is on: by default
no image of a face ever leaves the device.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import cv2
import numpy as np

from edge.tracker import Track

APPEARED, CHANGED, HEARTBEAT = "appeared", "changed", "heartbeat"
REASONS = (APPEARED, CHANGED, HEARTBEAT)
EVENT_FIELDS = ("ts", "device", "camera", "frame", "face_id", "emotion", "confidence", "scores", "bbox", "reason")


def reason_to_publish(track: Track, now: float, heartbeat_s: float | None) -> str | None:
    """Why ``track`` deserves an event in this frame, or None. ``now`` is a monotonic clock reading."""
    if track.new:
        return APPEARED
    if track.changed:
        return CHANGED
    if heartbeat_s is not None and track.last_event_at is not None and now - track.last_event_at >= heartbeat_s:
        return HEARTBEAT
    return None


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def build_event(
    device: str, camera: str, frame: int, track: Track, labels: list[str], reason: str, crop: np.ndarray | None = None
) -> dict:
    """The event payload; ``crop`` is attached as a JPEG only when the caller passes one (snapshots on)."""
    event = {
        "ts": utc_now_iso(),
        "device": device,
        "camera": camera,
        "frame": frame,
        "face_id": track.face_id,
        "emotion": labels[track.label],
        "confidence": round(float(track.scores[track.label]), 4),
        "scores": {label: round(float(score), 4) for label, score in zip(labels, track.scores)},
        "bbox": [round(v) for v in track.box],
        "reason": reason,
    }
    if crop is not None:
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            event["snapshot"] = base64.b64encode(jpeg.tobytes()).decode("ascii")
    return event
