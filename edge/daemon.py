"""The daemon: one pipeline thread per camera, periodic stats, clean stop on SIGTERM/SIGINT.

With finite sources (files, folders) it runs until every frame is processed and the broker has
acknowledged every event, then exits 0. If the broker is down at that point it keeps retrying until it
is back, until SIGTERM, or for at most ``edge.outbox.drain_timeout_s`` (then exit 1); whatever is still
unacknowledged stays in the outbox and goes out first on the next start. With live sources it runs until
signalled. A stop publishes "offline" and returns within about a second (plus up to paho's 5 s connect
timeout if it is just then trying a broker that does not answer), well inside systemd's default stop timeout.

Under systemd (``Type=notify``) it says READY=1 once the models are loaded and the camera threads started
(a live camera that is not there yet is retried in the background and logged, not waited for), pings
the watchdog from the main loop, puts the latest stats in ``systemctl status`` and says STOPPING=1 when it
shuts down. The Prometheus endpoint, when configured, serves the metrics the pipelines and publisher fill;
and the live view (``edge.preview``), when enabled, serves the annotated streams.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager

from edge import systemd
from edge.config import EdgeConfig
from edge.metrics import Metrics
from edge.pipeline import CameraPipeline
from edge.preview import live_view
from edge.publisher import MqttPublisher, StdoutPublisher
from edge.publishing import DaemonPublisher

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the main thread looks at the stop flag, the stats clock and the watchdog
QUIET_WAIT_S = 1.0  # acknowledgements slower than this at the end of a run are worth a log line
JOIN_TIMEOUT_S = 1.0


@contextmanager
def stop_on_signals(stop: threading.Event):
    """SIGTERM (systemctl stop) and SIGINT (Ctrl-C) ask for a clean stop instead of killing the process."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Watchdog:
    """systemd's watchdog, pinged from the main loop only: if that loop wedges, or a camera has spent a whole
    ``WatchdogSec`` on one frame (a wedged inference), the pings stop and systemd restarts the service.
    Without ``WatchdogSec=`` (a terminal run) it does nothing."""

    def __init__(self, pipelines=()):
        self.interval = systemd.watchdog_interval()
        self.pipelines = pipelines
        self._next = 0.0
        self._withheld = False

    def tick(self) -> None:
        if self.interval is None or time.monotonic() < self._next:
            return
        stuck = [p.camera.name for p in self.pipelines if p.stuck_s() > 2 * self.interval]
        if stuck:
            if not self._withheld:
                log.error(
                    "%s: one frame has taken over %g s; no more watchdog pings, so systemd restarts us",
                    ", ".join(stuck),
                    2 * self.interval,
                )
            self._withheld = True
            return
        systemd.watchdog()
        self._next = time.monotonic() + self.interval


def run(config: EdgeConfig) -> int:
    metrics = Metrics()
    publisher: DaemonPublisher = StdoutPublisher() if config.output == "stdout" else MqttPublisher(config, metrics)
    pipelines = [CameraPipeline(config, camera, publisher, metrics) for camera in config.cameras]
    stop = threading.Event()
    watchdog = Watchdog(pipelines)
    with stop_on_signals(stop), live_view(config.preview, pipelines):
        metrics.serve(config.metrics)
        publisher.start()
        threads = [threading.Thread(target=p.run, args=(stop,), name=p.camera.name, daemon=True) for p in pipelines]
        for thread in threads:
            thread.start()
        systemd.ready()
        log.info("running %d camera(s): %s", len(pipelines), ", ".join(p.camera.name for p in pipelines))
        supervise(threads, pipelines, publisher, stop, config.events.stats_interval_s, watchdog)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        if not failures(pipelines, publisher):
            publish_stats(pipelines, publisher, final=True)
        asked_to_stop = stop.is_set()
        delivered = asked_to_stop or wait_for_acks(publisher, stop, config.outbox.drain_timeout_s, watchdog)
        systemd.stopping()
        publisher.close()
        metrics.close()
    return exit_status(pipelines, publisher, delivered, asked_to_stop)


def exit_status(
    pipelines: list[CameraPipeline], publisher: DaemonPublisher, delivered: bool, asked_to_stop: bool
) -> int:
    """0 for a stop that was asked for, or a run whose every message was delivered; 1 after a failure, or
    when a run that ended by itself had messages refused by the broker (not delivered, though answered)."""
    failed = failures(pipelines, publisher)
    if failed:
        log.error("stopped after a failure (%s); exit 1 so that systemd restarts the service", "; ".join(failed))
        return 1
    if publisher.refused and not asked_to_stop:
        log.error(
            "%d message(s) were refused by the MQTT broker, not delivered; they stay in the outbox (exit 1)",
            publisher.refused,
        )
        return 1
    return 0 if delivered else 1


def failures(pipelines: list[CameraPipeline], publisher: DaemonPublisher) -> list[str]:
    """What stopped a camera thread or the publisher early, as "where: why"."""
    failed = [f"{p.camera.name}: {p.error}" for p in pipelines if p.error]
    return failed + ([f"mqtt: {publisher.error}"] if publisher.error else [])


def supervise(
    threads: list[threading.Thread],
    pipelines: list[CameraPipeline],
    publisher: DaemonPublisher,
    stop: threading.Event,
    stats_interval_s: float,
    watchdog: Watchdog,
) -> None:
    """Until stopped, every source has ended or the publisher has failed: publish each camera's stats every
    ``stats_interval_s``. (A camera that fails sets ``stop`` itself.)"""
    next_stats = time.monotonic() + stats_interval_s
    while not stop.is_set() and any(thread.is_alive() for thread in threads):
        if publisher.error:
            stop.set()
            break
        watchdog.tick()
        stop.wait(POLL_S)
        if time.monotonic() >= next_stats:
            publish_stats(pipelines, publisher)
            next_stats += stats_interval_s


def publish_stats(pipelines: list[CameraPipeline], publisher: DaemonPublisher, final: bool = False) -> None:
    """Each camera's stats to the broker (``final``: the whole run's figures, not the last interval's), and a
    one-line summary to ``systemctl status``."""
    summary = []
    for pipeline in pipelines:
        stats = pipeline.stats_payload(final)
        publisher.stats(pipeline.camera.name, stats)
        summary.append(f"{pipeline.camera.name}: {stats['fps']} fps, {stats['faces']} face(s)")
    broker = f"; MQTT {publisher.connection}" if publisher.connection else ""
    systemd.status("; ".join(summary) + f"; {publisher.unacked} message(s) waiting for the broker{broker}")


def wait_for_acks(
    publisher: DaemonPublisher, stop: threading.Event, timeout_s: float | None, watchdog: Watchdog
) -> bool:
    """A finite run ends once the broker holds every event. A signal ends the wait early (True: a stop
    that was asked for); ``timeout_s`` bounds it, and a failed publisher ends it (False). Either way the rest
    stays in the outbox. It waits in ``POLL_S`` steps so the watchdog keeps its pace, and says it is waiting
    only when the acknowledgements take longer than ``QUIET_WAIT_S``."""
    started = time.monotonic()
    said = False
    while not stop.is_set() and not publisher.error:
        watchdog.tick()
        if publisher.flush(timeout=POLL_S):
            return True
        waited = time.monotonic() - started
        if not said and waited >= QUIET_WAIT_S:
            log.info("waiting for the MQTT broker to acknowledge %d message(s)", publisher.unacked)
            said = True
        if timeout_s is not None and waited >= timeout_s:
            log.warning("edge.outbox.drain_timeout_s: gave up waiting after %g s", timeout_s)
            return False
    return publisher.error is None
