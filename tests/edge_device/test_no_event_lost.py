"""No event is lost: a broker outage mid-stream and a daemon killed during one, against a real mosquitto.

Every frame of the test video yields an event (``heartbeat_s`` tiny), so "nothing lost" is checkable frame by
frame against a reference run of the same video without a broker (``--stdout``). Delivery is at least once:
a message in flight when the broker dies may arrive twice, so duplicates (same ``ts`` and frame) are
removed before comparing, and counted.
"""

import json
import signal
import subprocess
import sys

import pytest

from tests.support import REPO, deduplicated, event_key, every_frame_config, face_video

FRAMES = 120


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return face_video(tmp_path_factory.mktemp("video") / "face.avi", FRAMES)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shipped_model, video):
    """The events of a run without any outage (stdout: no broker, no outbox)."""
    config = every_frame_config(tmp_path_factory.mktemp("reference"), shipped_model, video)
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--stdout"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    events = [event_key(json.loads(line)) for line in result.stdout.splitlines()]
    assert [frame for _, frame, *_ in events] == list(range(FRAMES))
    return events


def cam_events(*listeners) -> list[dict]:
    return [event for listener in listeners for event in listener.payloads("/cam/event")]


def reconnect_after(broker, daemon, listeners):
    """Start the broker and a subscriber while the daemon is paused, so the subscriber misses nothing."""
    daemon.process.send_signal(signal.SIGSTOP)
    broker.start()
    listener = listeners(broker)
    daemon.process.send_signal(signal.SIGCONT)
    return listener


def outage(broker, listener, daemon) -> None:
    """Stop the broker once some events got through, then let the daemon finish the video into its outbox."""
    assert listener.wait_for(lambda: len(listener.payloads("/cam/event")) >= 10), daemon.log
    broker.stop()
    listener.close()  # its own reconnect must not race the one opened after the outage
    daemon.wait_for_log("waiting for the MQTT broker to acknowledge", timeout=60)
    assert len(listener.payloads("/cam/event")) < FRAMES, "the video ended before the broker went down"


def test_broker_killed_mid_stream_every_event_arrives_in_order(
    tmp_path, shipped_model, video, reference, broker, listeners, daemons
):
    before = listeners(broker)
    daemon = daemons(every_frame_config(tmp_path, shipped_model, video, broker))
    outage(broker, before, daemon)

    after = reconnect_after(broker, daemon, listeners)
    assert daemon.wait(timeout=90) == 0, daemon.log

    events, duplicates = deduplicated(cam_events(before, after))
    print(
        f"\noutage: {len(before.payloads('/cam/event'))} events before it, {len(after.payloads('/cam/event'))} "
        f"after, {duplicates} duplicate(s), {len(events)}/{len(reference)} as in the reference run"
    )
    assert events == reference
    assert duplicates <= 100  # at most the window of messages in flight when the broker died
    stats = after.payloads("/cam/stats")[-1]  # sent at the end of the video, while the broker was down
    assert stats["outbox"]["depth"] > 0 and stats["outbox"]["dropped"] == 0
    assert "connection lost" in daemon.log and "Traceback" not in daemon.log


def test_daemon_killed_while_the_broker_is_down_sends_the_queue_first_after_restart(
    tmp_path, shipped_model, video, reference, broker, listeners, daemons
):
    config = every_frame_config(tmp_path, shipped_model, video, broker)
    before = listeners(broker)
    first = daemons(config, name="first")
    outage(broker, before, first)
    first.process.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    broker.start()
    after = listeners(broker)
    second = daemons(
        config, "--source", str(video), "--camera", "desk", name="second"
    )  # a video: photos would be a batch
    assert second.wait(timeout=90) == 0, second.log
    assert "from before the restart go out first" in second.log

    events, _ = deduplicated(cam_events(before, after))
    assert events == reference
    order = [topic.split("/")[2] for topic, _, _ in after.messages if topic.endswith("/event")]
    assert "desk" in order and "cam" not in order[order.index("desk") :]  # the queued events came first


def test_a_full_outbox_drops_the_oldest_and_counts_them(
    tmp_path, shipped_model, video, reference, broker, listeners, daemons
):
    broker.stop()
    daemon = daemons(every_frame_config(tmp_path, shipped_model, video, broker, max_messages=50))
    daemon.wait_for_log("waiting for the MQTT broker to acknowledge", timeout=60)
    after = reconnect_after(broker, daemon, listeners)
    assert daemon.wait(timeout=60) == 0, daemon.log

    events, _ = deduplicated(after.payloads("/cam/event"))
    assert 0 < len(events) < 50 and events == reference[-len(events) :]  # the newest, still in order
    assert after.payloads("/cam/stats")[-1]["outbox"]["dropped"] >= FRAMES - 50
