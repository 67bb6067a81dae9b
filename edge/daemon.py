"""The daemon: one pipeline thread per camera, periodic stats, clean stop on SIGTERM/SIGINT.

With finite sources (files, folders) it runs until every frame is processed and the broker has
acknowledged every event, then exits; with live sources it runs until signalled. A stop publishes
"offline" and returns within about a second, well inside systemd's default stop timeout.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager

from edge.config import EdgeConfig
from edge.pipeline import CameraPipeline
from edge.publisher import MqttPublisher, StdoutPublisher

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the main thread looks at the stop flag and the stats clock
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


def run(config: EdgeConfig, stdout: bool = False) -> int:
    publisher = StdoutPublisher() if stdout else MqttPublisher(config)
    pipelines = [CameraPipeline(config, camera, publisher) for camera in config.cameras]
    stop = threading.Event()
    with stop_on_signals(stop):
        publisher.start()
        threads = [threading.Thread(target=p.run, args=(stop,), name=p.camera.name, daemon=True) for p in pipelines]
        for thread in threads:
            thread.start()
        log.info("running %d camera(s): %s", len(pipelines), ", ".join(p.camera.name for p in pipelines))
        supervise(threads, pipelines, publisher, stop, config.events.stats_interval_s)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        publish_stats(pipelines, publisher)
        if not stop.is_set():
            wait_for_acks(publisher, stop)
        publisher.close()
    return 0


def supervise(threads, pipelines, publisher, stop: threading.Event, stats_interval_s: float) -> None:
    """Until stopped or every source has ended: publish each camera's stats every ``stats_interval_s``."""
    next_stats = time.monotonic() + stats_interval_s
    while not stop.is_set() and any(thread.is_alive() for thread in threads):
        stop.wait(POLL_S)
        if time.monotonic() >= next_stats:
            publish_stats(pipelines, publisher)
            next_stats += stats_interval_s


def publish_stats(pipelines, publisher) -> None:
    for pipeline in pipelines:
        publisher.stats(pipeline.camera.name, pipeline.stats_payload())


def wait_for_acks(publisher, stop: threading.Event) -> None:
    """A finite run ends only once the broker holds every event; a signal cuts the wait short."""
    if publisher.flush(timeout=1.0):
        return
    log.info("waiting for the MQTT broker to acknowledge %d message(s)", publisher.unacked)
    while not stop.is_set() and not publisher.flush(timeout=POLL_S):
        pass
