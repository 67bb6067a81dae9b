"""Prometheus metrics of the daemon, served at ``http://<device>:<edge.metrics.port>/metrics`` when enabled.

A fleet of unattended devices is watched from one Grafana: a camera whose fps sinks, inference latency
creeping up on a throttled Pi, an outbox filling during a broker outage. Off by default
(``edge.metrics.port: null``); every metric is still recorded, so the daemon's code has no ``if enabled``.

API::

    metrics = Metrics()                          # own registry: several instances (tests) never collide
    metrics.serve(config.metrics)                # no-op when port is null; Unavailable (exit 69) when the port is taken
    metrics.frames.labels(camera).inc();  metrics.fps.labels(camera).set(14.8)
    metrics.latency.labels(stage).observe(seconds)     # decode|detect|classify|track|publish, frame: all
    metrics.faces.labels(camera).set(n);  metrics.dropped_frames.labels(camera).inc()
    metrics.queue_depth.labels(queue).set(n);  metrics.reconnects.inc();  metrics.events.labels(camera).inc()
    metrics.mqtt_connected.set(1);  metrics.connect_failures.inc();  metrics.refused.inc()
    metrics.watch_outbox(outbox)                 # outbox depth and dropped total, read at scrape time
    metrics.close()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from common.errors import listen_error
from edge.config import MetricsConfig
from edge.outbox import Outbox

PREFIX = "emotion_edge"
# From a few ms (Edge TPU classify) to seconds (a whole frame on a busy Pi Zero 2).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._server = None
        self.frames = self._counter("frames", "Frames processed", "camera")
        self.dropped_frames = self._counter(
            "dropped_frames", "Frames skipped because the pipeline was behind", "camera"
        )
        self.events = self._counter("events", "Emotion events published", "camera")
        self.reconnects = self._counter("mqtt_reconnects", "Connections to the MQTT broker re-established")
        self.connect_failures = self._counter(
            "mqtt_connect_failures", "Attempts to connect to the MQTT broker that failed"
        )
        self.refused = self._counter(
            "mqtt_refused", "MQTT messages the broker refused (MQTT 5 reason code), kept in the outbox"
        )
        self.mqtt_connected = self._gauge("mqtt_connected", "1 while connected to the MQTT broker, else 0")
        self.fps = self._gauge("fps", "Frames per second over the last stats interval", "camera")
        self.faces = self._gauge("faces", "Faces in view", "camera")
        self.queue_depth = self._gauge("queue_depth", "Items waiting in an internal queue", "queue")
        self.outbox_depth = self._gauge("outbox_depth", "MQTT messages waiting for the broker's acknowledgement")
        self.outbox_dropped = self._gauge("outbox_dropped", "MQTT messages dropped because the outbox was full, ever")
        self.latency = Histogram(
            f"{PREFIX}_latency_seconds",
            "Time spent per frame in each stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)

    def watch_outbox(self, outbox: Outbox) -> None:
        """Read the outbox's numbers when scraped, so they are never stale and cost nothing in between."""
        self.outbox_depth.set_function(lambda: outbox.depth)
        self.outbox_dropped.set_function(lambda: outbox.dropped)

    def serve(self, config: MetricsConfig) -> bool:
        """Start the HTTP endpoint in a background thread; False when metrics are off."""
        if config.port is None:
            return False
        try:
            self._server, _ = start_http_server(config.port, config.address, registry=self.registry)
        except OSError as exc:
            raise listen_error("edge.metrics", config.address, config.port, exc) from None
        return True

    @property
    def port(self) -> int | None:
        """The port actually listened on (useful with port 0 in tests)."""
        return self._server.server_port if self._server else None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
