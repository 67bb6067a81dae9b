"""The interface between a camera's pipeline and where its messages go, and the publisher that sends nowhere.

``CameraPipeline`` hands every event, stats message and Home Assistant state to an ``EventPublisher``; the
daemon's are ``MqttPublisher`` and ``StdoutPublisher`` (edge.publisher), ``DaemonPublisher``s that also tell
the daemon what is delivered, while ``edge bench`` and ``edge annotate`` use ``DiscardingPublisher``, which
serialises each message as MQTT would (the cost ``edge bench`` times) and drops it.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Protocol, runtime_checkable


@runtime_checkable
class EventPublisher(Protocol):
    """Where a pipeline's messages go. Each publisher subclasses it, so one that misses a method cannot be
    built (the methods are abstract) and a type checker holds the signatures to these."""

    @abstractmethod
    def start(self) -> None:
        """Connect (or get ready); called once before the first message."""

    @abstractmethod
    def event(self, camera: str, event: dict) -> None:
        """One emotion event of ``camera`` (edge.events)."""

    @abstractmethod
    def stats(self, camera: str, stats: dict) -> None:
        """The camera's periodic stats message."""

    @abstractmethod
    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        """The camera's Home Assistant state: its dominant emotion and face count."""

    @abstractmethod
    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every message is delivered; False if some are not."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; nothing is sent afterwards."""


@runtime_checkable
class DaemonPublisher(EventPublisher, Protocol):
    """What ``edge run`` also reads of its publisher (edge.daemon): delivery state for the exit status, the
    drain at the end and ``systemctl status``. ``connection`` and ``error`` are attributes the publisher sets."""

    connection: str | None  # the broker connection's state ("connected", ...); None where there is no broker
    error: str | None  # why publishing stopped for good, if it did

    @property
    @abstractmethod
    def unacked(self) -> int:
        """Messages not yet acknowledged by the broker."""

    @property
    @abstractmethod
    def refused(self) -> int:
        """Messages the broker answered with a refusal in this run (not delivered)."""


class DiscardingPublisher(EventPublisher):
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
