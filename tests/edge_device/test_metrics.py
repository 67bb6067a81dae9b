"""The Prometheus endpoint: off by default, serves every metric when a port is set, one-line port errors."""

import socket
import urllib.request

import pytest

from common.errors import UserError
from edge.config import MetricsConfig
from edge.metrics import Metrics
from edge.outbox import Outbox
from tests.support import free_port


@pytest.fixture
def metrics():
    instance = Metrics()
    yield instance
    instance.close()


def test_off_by_default(metrics):
    assert MetricsConfig().port is None
    assert metrics.serve(MetricsConfig()) is False and metrics.port is None


def test_endpoint_exposes_the_pipeline_numbers(metrics, tmp_path):
    outbox = Outbox(tmp_path / "outbox.db", max_messages=1, owner="test")
    outbox.put("t", b"1")
    outbox.put("t", b"2")  # one dropped
    metrics.watch_outbox(outbox)
    metrics.frames.labels("door").inc(3)
    metrics.fps.labels("door").set(14.5)
    metrics.latency.labels("classify").observe(0.004)
    metrics.faces.labels("door").set(2)
    metrics.dropped_frames.labels("door").inc()
    metrics.queue_depth.labels("frames").set(1)
    metrics.reconnects.inc()
    metrics.events.labels("door").inc()
    assert metrics.serve(MetricsConfig(port=free_port(), address="127.0.0.1"))

    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5).read().decode()
    for line in (
        'emotion_edge_frames_total{camera="door"} 3.0',
        'emotion_edge_fps{camera="door"} 14.5',
        'emotion_edge_latency_seconds_bucket{le="0.005",stage="classify"} 1.0',
        'emotion_edge_faces{camera="door"} 2.0',
        'emotion_edge_dropped_frames_total{camera="door"} 1.0',
        'emotion_edge_queue_depth{queue="frames"} 1.0',
        "emotion_edge_mqtt_reconnects_total 1.0",
        'emotion_edge_events_total{camera="door"} 1.0',
        "emotion_edge_outbox_depth 1.0",
        "emotion_edge_outbox_dropped 1.0",
    ):
        assert line in text.splitlines(), line
    outbox.close()


def test_port_in_use_is_one_line_error_that_systemd_retries(metrics):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=rf"edge.metrics: cannot serve on 127.0.0.1:{port}") as raised:
            metrics.serve(MetricsConfig(port=port, address="127.0.0.1"))
    assert raised.value.exit_code == 69  # a port still held by the last run frees itself: not a config error


def test_an_address_that_does_not_resolve_is_a_config_error_not_restarted(metrics):
    with pytest.raises(UserError, match=r"edge.metrics: cannot serve on no-such-host.invalid:9108") as raised:
        metrics.serve(MetricsConfig(port=9108, address="no-such-host.invalid"))
    assert raised.value.exit_code == 2  # systemd's RestartPreventExitStatus=2: no restart loop


def test_running_daemon_serves_its_metrics(tmp_path, shipped_model, daemons):
    """One scrape of ``edge run`` with ``edge.metrics.port``: the sample frames, stage latencies, the outbox
    holding the events for a broker that does not listen."""
    import signal
    from types import SimpleNamespace

    from tests.support import SAMPLES, edge_config

    port = free_port()
    nowhere = SimpleNamespace(host="127.0.0.1", port=free_port())
    extra = f"  metrics:\n    port: {port}\n    address: 127.0.0.1\n"
    daemon = daemons(edge_config(tmp_path, shipped_model, SAMPLES, nowhere, extra=extra))
    daemon.wait_for_log("waiting for the MQTT broker")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    lines = text.splitlines()
    for line in (
        'emotion_edge_frames_total{camera="cam"} 4.0',
        'emotion_edge_events_total{camera="cam"} 3.0',
        'emotion_edge_latency_seconds_count{stage="classify"} 4.0',
        'emotion_edge_latency_seconds_count{stage="frame"} 4.0',
        'emotion_edge_dropped_frames_total{camera="cam"} 0.0',
        "emotion_edge_mqtt_reconnects_total 0.0",
        "emotion_edge_outbox_dropped 0.0",
    ):
        assert line in lines, line
    depth = next(float(line.split()[1]) for line in lines if line.startswith("emotion_edge_outbox_depth "))
    assert depth >= 4  # three events and the stats, waiting for the broker
    assert any(line.startswith('emotion_edge_fps{camera="cam"}') for line in lines)
    assert any(line.startswith('emotion_edge_faces{camera="cam"}') for line in lines)


def test_broker_restart_counts_one_reconnect(tmp_path, broker, metrics):
    import time

    from edge.config import EdgeConfig
    from edge.publisher import MqttPublisher

    config = EdgeConfig(
        device="test-dev", mqtt={"host": broker.host, "port": broker.port}, outbox={"path": tmp_path / "outbox.db"}
    )
    publisher = MqttPublisher(config, metrics)
    publisher.start()

    def reconnects(expected: float) -> bool:
        deadline = time.monotonic() + 15
        while metrics.registry.get_sample_value("emotion_edge_mqtt_reconnects_total") != expected:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    try:
        assert publisher.flush(timeout=0) and reconnects(0.0)
        publisher.event("cam", {"n": 1})
        assert publisher.flush(timeout=10)  # connected and acknowledged
        broker.restart()
        assert reconnects(1.0)
    finally:
        publisher.close()
