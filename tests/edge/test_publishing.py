"""Every publisher declares the interface the pipeline (and the daemon) hands its messages to."""

import inspect

import pytest

from edge.config import EdgeConfig
from edge.publisher import MqttPublisher, StdoutPublisher
from edge.publishing import DaemonPublisher, DiscardingPublisher, EventPublisher

METHODS = ("start", "event", "stats", "state", "flush", "close")


@pytest.fixture
def publishers(tmp_path):
    mqtt = MqttPublisher(EdgeConfig(device="test-dev", outbox={"path": tmp_path / "outbox.db"}))  # never started
    yield {"discarding": DiscardingPublisher(), "stdout": StdoutPublisher(), "mqtt": mqtt}
    mqtt.close()


def test_each_publisher_declares_and_satisfies_the_protocol(publishers):
    for name, publisher in publishers.items():
        assert EventPublisher in type(publisher).__mro__, name  # declared, not merely shaped alike
        assert isinstance(publisher, EventPublisher), name
        for method in METHODS:  # the same parameters as the protocol's, so every caller's call fits
            declared = inspect.signature(getattr(EventPublisher, method)).parameters
            assert inspect.signature(getattr(type(publisher), method)).parameters.keys() == declared.keys(), (
                f"{name}.{method}"
            )
    for name in ("stdout", "mqtt"):  # what the daemon also reads: delivery state
        assert isinstance(publishers[name], DaemonPublisher), name
        assert (publishers[name].unacked, publishers[name].refused, publishers[name].error) == (0, 0, None)
    assert not isinstance(publishers["discarding"], DaemonPublisher)


def test_a_publisher_missing_a_method_cannot_be_built():
    class EventsOnly(EventPublisher):
        def event(self, camera: str, event: dict) -> None:
            """Forgot the rest."""

    with pytest.raises(TypeError, match="abstract"):
        EventsOnly()
