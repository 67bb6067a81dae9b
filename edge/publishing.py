"""The interface between a camera's pipeline and where its messages go, and the publisher that sends nowhere.

``CameraPipeline`` hands every event, stats message and Home Assistant state to an ``EventPublisher``; the
daemon's are ``MqttPublisher`` and ``StdoutPublisher`` (edge.publisher), while ``edge bench`` and ``edge
annotate`` use ``DiscardingPublisher``, which serialises each message as MQTT would (the cost ``edge bench``
times) and drops it.
"""

from __future__ import annotations

import json
from typing import Protocol


class EventPublisher(Protocol):
    def start(self) -> None:
        """Connect (or get ready); called once before the first message."""

    def event(self, camera: str, event: dict) -> None:
        """One emotion event of ``camera`` (edge.events)."""

    def stats(self, camera: str, stats: dict) -> None:
        """The camera's periodic stats message."""

    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        """The camera's Home Assistant state: its dominant emotion and face count."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every message is delivered; False if some are not."""

    def close(self) -> None:
        """Release the connection; nothing is sent afterwards."""


class DiscardingPublisher:
    """Serialises like the MQTT publisher would, then drops the message."""

    def start(self) -> None:
        """Nothing to connect."""

    def event(self, camera: str, event: dict) -> None:
        json.dumps(event).encode()

    def stats(self, camera: str, stats: dict) -> None:
        json.dumps(stats).encode()

    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        json.dumps({"emotion": emotion, "faces": faces}).encode()

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""
