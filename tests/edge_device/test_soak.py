"""Soak: the daemon on a looping RTSP stream for ``SOAK_SECONDS`` (default 120) with events, stats, HA state
and metrics all flowing to a real broker; its resident memory must stay flat after warm-up.

The RSS (``VmRSS``) is sampled every second. The first 20 % is warm-up (interpreters, caches, the broker
connection); over the rest, a straight line fitted to the samples may rise at most ``MAX_MIB_PER_MINUTE``
(0.5), and the median of the last third may exceed that of the first third by at most 5 MiB. A leak of one
event payload per frame would be ~1 MiB a minute, twice the slope allowed; the fit's own noise here is
under 0.1 MiB a minute.
"""

import os
import signal
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support import edge_config, free_port

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
WARM_UP = 0.2
MIB = 1024 * 1024
MAX_MIB_PER_MINUTE = 0.5


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.soak
def test_memory_stays_flat_on_a_looping_stream(tmp_path, shipped_model, broker, rtsp_server, listeners, daemons):
    extra = f"  homeassistant:\n    discovery: true\n  metrics:\n    port: {free_port()}\n    address: 127.0.0.1\n"
    config = edge_config(tmp_path, shipped_model, rtsp_server.url, broker, extra=extra)
    config.write_text(
        config.read_text().replace("    stats_interval_s: 0.5\n", "    stats_interval_s: 1\n    heartbeat_s: 0.1\n")
    )
    listener = listeners(broker, "emotion/#")
    daemon = daemons(config)
    assert listener.wait_for(lambda: listener.payloads("/cam/event"), timeout=30), daemon.log

    samples, times, deadline = [], [], time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        assert daemon.process.poll() is None, daemon.log
        samples.append(rss_bytes(daemon.process.pid))
        times.append(time.monotonic())
        time.sleep(1)
    events = len(listener.payloads("/cam/event"))
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0, daemon.log

    start = int(len(samples) * WARM_UP)
    steady, steady_times = samples[start:], times[start:]
    third = max(len(steady) // 3, 1)
    first, last = statistics.median(steady[:third]), statistics.median(steady[-third:])
    mib_per_minute = np.polyfit(np.asarray(steady_times) / 60, np.asarray(steady) / MIB, 1)[0]
    stats = listener.payloads("/cam/stats")[-1]
    print(
        f"\nsoak {SOAK_SECONDS:.0f} s: RSS first third {first / MIB:.1f} MiB, last third {last / MIB:.1f} MiB, "
        f"max {max(samples) / MIB:.1f} MiB, slope {mib_per_minute:+.2f} MiB/min; {stats['frames']} frames at {stats['fps']} fps, {events} events, "
        f"outbox {stats['outbox']}"
    )
    assert mib_per_minute <= MAX_MIB_PER_MINUTE and last - first <= 5 * MIB, (mib_per_minute, first, last)
    assert events >= SOAK_SECONDS * 2  # events kept flowing the whole time (heartbeat 0.1 s)
    assert stats["outbox"]["dropped"] == 0
