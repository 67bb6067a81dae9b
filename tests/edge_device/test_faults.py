"""Fault injection: what broke the daemon once, kept as tests against the real parts (mosquitto, ``edge run``
as a process, a real damaged video, a real full filesystem).

Every frame of the test video yields one event (``heartbeat_s`` tiny, one face), so "nothing lost" is
checked frame by frame: the events delivered, with at-least-once duplicates (the same ``ts`` and frame)
removed, must be exactly the frames the run stored, in order. Each test prints its figures (``pytest -s``);
docs/device.md lists them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.publisher import WINDOW
from tests.support import (
    SAMPLES,
    Broker,
    deduplicated,
    edge_config,
    every_frame_config,
    face_video,
    free_port,
    run_edge,
)

FRAMES = 300


def drain_clip(folder: Path) -> Path:
    """A few frames for a second daemon that only has to send what the first one stored (an image folder
    given with --source would be a photo batch, which publishes nothing)."""
    return face_video(folder / "drain.avi", 5)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return face_video(tmp_path_factory.mktemp("video") / "face.avi", FRAMES)


def mqtt_settings(config: Path, broker, settings: str) -> Path:
    """More ``edge.mqtt`` keys (YAML lines indented four spaces) in a config made by ``edge_config``."""
    config.write_text(config.read_text().replace(f"    port: {broker.port}\n", f"    port: {broker.port}\n{settings}"))
    return config


def frames_of(events: list[tuple], camera: str = "cam") -> list[int]:
    return [frame for cam, frame, *_ in events if cam == camera]


def stored(outbox: Path) -> list[tuple[str, bytes]]:
    """The messages an outbox file holds, read as the next start will read them (none before it exists)."""
    if not outbox.exists():
        return []
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT topic, payload FROM messages ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # created, its tables not yet
            return []


def stored_frames(outbox: Path) -> list[int]:
    """The frames of the events an outbox file holds."""
    return [json.loads(payload)["frame"] for topic, payload in stored(outbox) if topic.endswith("/cam/event")]


def eventually(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def kill_broker(broker: Broker) -> None:
    broker.process.send_signal(signal.SIGKILL)
    broker.process.wait()
    broker.process = None


def restart_with_daemon_paused(broker: Broker, daemon, listeners):
    """Start the broker and a new subscriber while the daemon is stopped, so the subscriber misses nothing."""
    daemon.process.send_signal(signal.SIGSTOP)
    broker.start()
    listener = listeners(broker)
    daemon.process.send_signal(signal.SIGCONT)
    return listener


def received(listeners_used) -> list[dict]:
    return [event for listener in listeners_used for event in listener.payloads("/cam/event")]


# Broker and daemon killed


def drained(listener, quiet_s: float = 0.5) -> None:
    """Wait until the subscriber has had nothing new for ``quiet_s``: whatever the broker took, it has passed on."""
    count = -1
    while count != len(listener.messages):
        count = len(listener.messages)
        time.sleep(quiet_s)


def test_broker_sigkilled_three_times_mid_stream_loses_nothing(
    tmp_path, shipped_model, video, broker, listeners, daemons
):
    """Each kill lands while the daemon has messages in flight (handed to paho, their PUBACKs unread). The
    daemon is paused for the kill only so that the broker has passed on everything it acknowledged: a
    killed mosquitto also loses the messages it queued for its subscribers, which no publisher can help."""
    daemon = daemons(every_frame_config(tmp_path, shipped_model, video, broker))
    used = [listeners(broker)]
    for _kill in range(1, 4):
        assert used[-1].wait_for(lambda: len(used[-1].payloads("/cam/event")) >= 20, timeout=60), daemon.log
        daemon.process.send_signal(signal.SIGSTOP)
        drained(used[-1])
        kill_broker(broker)
        used[-1].close()  # its own reconnect must not race the subscriber opened after the restart
        daemon.process.send_signal(signal.SIGCONT)
        time.sleep(0.3)
        used.append(restart_with_daemon_paused(broker, daemon, listeners))
    assert daemon.wait(timeout=120) == 0, daemon.log

    events, duplicates = deduplicated(received(used))
    print(
        f"\nbroker SIGKILL x3: {len(events)}/{FRAMES} events, {duplicates} duplicate(s), per connection "
        f"{[len(listener.payloads('/cam/event')) for listener in used]}"
    )
    assert frames_of(events) == list(range(FRAMES))
    assert duplicates <= 3 * WINDOW  # at most the messages in flight at each kill
    assert daemon.log.count("connection lost") == 3 and "Traceback" not in daemon.log


@pytest.mark.parametrize("broker_up", [True, False], ids=["broker up", "broker down"])
def test_daemon_sigkilled_mid_run_its_stored_events_go_out_once_more_on_restart(
    tmp_path, shipped_model, video, broker, listeners, daemons, broker_up
):
    """Broker up: it is frozen (SIGSTOP) for a moment so that a backlog builds and the daemon dies with it
    stored and its window in flight, which the broker then takes from its socket: those come twice."""
    config = every_frame_config(tmp_path, shipped_model, video, broker)
    listener = listeners(broker)
    if not broker_up:
        broker.stop()
    first = daemons(config, name="first")
    if broker_up:
        assert listener.wait_for(lambda: len(listener.payloads("/cam/event")) >= 20, timeout=60), first.log
        broker.process.send_signal(signal.SIGSTOP)
    assert eventually(lambda: len(stored_frames(tmp_path / "outbox.db")) >= 50), first.log
    first.process.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    if broker_up:
        broker.process.send_signal(signal.SIGCONT)
        drained(listener)
    before = frames_of(deduplicated(listener.payloads("/cam/event"))[0])
    kept = stored_frames(tmp_path / "outbox.db")
    if not broker_up:
        broker.start()
        listener = listeners(broker)

    second = daemons(config, "--source", str(drain_clip(tmp_path)), "--camera", "desk", name="second")
    assert second.wait(timeout=90) == 0, second.log
    events, duplicates = deduplicated(listener.payloads("/cam/event"))
    delivered = frames_of(events)
    print(
        f"\ndaemon SIGKILL, broker {'up' if broker_up else 'down'}: {len(before)} delivered before the kill, "
        f"{len(kept)} stored at the kill, {len(delivered)} delivered in all, {duplicates} duplicate(s)"
    )
    expected = sorted(set(before) | set(kept))
    assert expected == list(range(len(expected))) and len(expected) > 0  # the run stored a gapless prefix
    assert delivered == expected  # every one of them delivered, in order
    assert duplicates <= (WINDOW if broker_up else 0)  # only those in flight at the kill may come twice
    order = [topic.split("/")[2] for topic, _, _ in listener.messages if topic.endswith("/event")]
    assert "cam" not in order[order.index("desk") :]  # the killed run's events went out first


# A broker that refuses


def acl(device_rule: str) -> str:
    return f"user emotion-edge\n{device_rule}\nuser homeassistant\ntopic read emotion/#\n"


def test_a_refused_publish_stays_in_the_outbox_is_reported_and_goes_out_once_allowed(
    tmp_path, shipped_model, broker_factory, listeners, daemons
):
    """The deploy ACL's per-device rule (``pattern write emotion/%u/#``) and a device named otherwise: under
    MQTT 3.1.1 the broker acknowledged each refused publish, the outbox emptied and the run exited 0."""
    secure = broker_factory(secure=True, acl=acl("pattern write emotion/%u/#"))
    user = "emotion-edge"
    password = tmp_path / "password"
    password.write_text(secure.users[user])
    clip = face_video(tmp_path / "clip.avi", 30)
    config = mqtt_settings(
        every_frame_config(tmp_path, shipped_model, clip, secure),
        secure,
        f"    username: {user}\n    password_file: {password}\n    tls:\n      ca_file: {secure.ca_file}\n",
    )  # device test-dev: not emotion-edge
    home_assistant = listeners(secure, "emotion/#", username="homeassistant")

    refused = daemons(config, name="refused")
    assert refused.wait(timeout=60) == 1, refused.log
    lines = [line for line in refused.log.splitlines() if "refused a message on" in line]
    kept = stored_frames(tmp_path / "outbox.db")
    print(
        f"\nrefused by the ACL: exit 1, {len(kept)} events kept in the outbox, {len(lines)} log line(s) (one per topic)"
    )
    assert kept == list(range(30)) and not home_assistant.payloads("/cam/event")
    assert {line.split("refused a message on ")[1].split(" ")[0] for line in lines} == {
        "emotion/test-dev/cam/event",
        "emotion/test-dev/cam/stats",
    }
    assert all("(Not authorized)" in line and "edge.mqtt.topic_prefix and edge.device" in line for line in lines)
    assert "message(s) were refused by the MQTT broker, not delivered" in refused.log
    assert "Traceback" not in refused.log

    secure.acl = acl("topic write emotion/#")  # the ACL fixed
    secure.restart()
    home_assistant = listeners(secure, "emotion/#", username="homeassistant")
    allowed = daemons(config, "--source", str(drain_clip(tmp_path)), "--camera", "desk", name="allowed")
    assert allowed.wait(timeout=60) == 0, allowed.log
    events, duplicates = deduplicated(home_assistant.payloads("/cam/event"))
    assert frames_of(events) == list(range(30)) and duplicates == 0
    stats = home_assistant.payloads("/cam/stats")[-1]  # the refused run's last stats, delivered late
    assert stats["outbox"]["refused"] > 0 and stats["fps"] > 0 and stats["latency_ms"]["detect"] > 0


def secure_publisher(tmp_path, secure, **mqtt):
    """A publisher for the deploy ACL's device account on the secure broker, under the prefix ``not-allowed``."""
    from edge.config import EdgeConfig
    from edge.publisher import MqttPublisher

    password = tmp_path / "password"
    password.write_text(secure.users["emotion-edge"])
    config = EdgeConfig(
        device="test-dev",
        mqtt={
            "host": secure.host,
            "port": secure.port,
            "topic_prefix": "not-allowed",
            "username": "emotion-edge",
            "password_file": password,
            "tls": {"ca_file": secure.ca_file},
            **mqtt,
        },
        outbox={"path": tmp_path / "outbox.db"},
    )
    publisher = MqttPublisher(config)
    publisher.start()
    return publisher


def test_a_refused_qos2_publish_is_seen_in_pubrec(tmp_path, broker_factory):
    """paho drops PUBREC's reason code and completes the exchange; the client keeps it."""
    publisher = secure_publisher(tmp_path, broker_factory(secure=True), qos=2)
    try:
        publisher.event("cam", {"n": 1})
        assert publisher.flush(timeout=15) and publisher.error is None
        assert (publisher.refused, publisher.unacked) == (1, 1)
        assert publisher.metrics.registry.get_sample_value("emotion_edge_mqtt_refused_total") == 1
    finally:
        publisher.close()


def test_mqtt_3_1_1_still_delivers_and_cannot_see_a_refusal(tmp_path, broker_factory, listeners):
    """The documented limit of ``edge.mqtt.protocol: 3.1.1``: the broker acknowledges what its ACL denies."""
    secure = broker_factory(secure=True)
    publisher = secure_publisher(tmp_path, secure, protocol="3.1.1")
    try:
        publisher.event("cam", {"n": 1})
        assert publisher.flush(timeout=15) and (publisher.refused, publisher.unacked) == (0, 0)  # taken as delivered
    finally:
        publisher.close()
    assert "(p2, " in secure.log  # mosquitto's name for MQTT 3.1.1
    allowed = secure_publisher(tmp_path, secure, protocol="3.1.1", topic_prefix="emotion")
    listener = listeners(secure, "emotion/#", username="homeassistant")
    try:
        allowed.event("cam", {"n": 2})
        assert allowed.flush(timeout=15)
        assert listener.wait_for(lambda: listener.payloads("/cam/event") == [{"n": 2}], timeout=10)
    finally:
        allowed.close()


# A full disk


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem that fills up: a 192 KiB tmpfs. Mounting needs root (CI runs as root); elsewhere
    the test is skipped with the reason."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_outbox_on_a_full_disk_counts_only_what_it_stored_and_will_not_open_to_resend(small_disk):
    from edge.outbox import Outbox, OutboxError

    path, owner = small_disk / "outbox.db", "device d at broker b:1"
    outbox = Outbox(path, 100_000, owner)
    with pytest.raises(OutboxError) as full:
        for _ in range(10_000):
            outbox.put("t", os.urandom(200))
    depth = outbox.depth
    outbox.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == depth
    with pytest.raises(OutboxError) as reopened:  # acknowledgements could not be recorded: nothing is sent
        Outbox(path, 100_000, owner)
    print(
        f"\nfull disk, Outbox.put directly: {depth} stored and counted; reopening refused: exit "
        f"{reopened.value.exit_code}"
    )
    assert "database or disk is full" in str(full.value) and full.value.exit_code == 69
    assert "cannot open the outbox database (database or disk is full)" in str(reopened.value)


def test_daemon_on_a_full_disk_reports_what_it_stored_and_never_resends_the_backlog(
    tmp_path, small_disk, shipped_model, video, broker, listeners, daemons
):
    broker.stop()  # everything goes to the outbox until the disk is full
    config = every_frame_config(tmp_path, shipped_model, video, broker)
    config.write_text(config.read_text().replace(str(tmp_path / "outbox.db"), str(small_disk / "outbox.db")))
    first = daemons(config, name="full")
    assert first.wait(timeout=60) == 1, first.log
    kept = stored_frames(small_disk / "outbox.db")
    said = [line for line in first.log.splitlines() if "message(s) not acknowledged" in line]
    messages = len(stored(small_disk / "outbox.db"))
    assert len(said) == 1 and f": {messages} message(s)" in said[0], first.log  # the log's count is the file's
    assert "database or disk is full" in first.log

    broker.start()
    listener = listeners(broker)
    restarts = [daemons(config, name=f"restart{n}") for n in range(3)]
    for restart in restarts:
        assert restart.wait(timeout=60) == 69, restart.log
        assert "cannot open the outbox database (database or disk is full)" in restart.log
    time.sleep(0.5)
    assert listener.payloads("/cam/event") == []  # three restarts on a full disk: nothing sent again

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    freed = daemons(config, "--source", str(drain_clip(tmp_path)), "--camera", "desk", name="freed")
    assert freed.wait(timeout=60) == 0, freed.log
    events, duplicates = deduplicated(listener.payloads("/cam/event"))
    print(
        f"\nfull disk, daemon: {messages} messages ({len(kept)} events) stored before the disk filled, the log "
        f"said {messages}; 3 restarts on the full disk sent 0; after freeing space {len(frames_of(events))} events "
        f"arrived, {duplicates} duplicate(s)"
    )
    assert frames_of(events) == kept == list(range(len(kept))) and duplicates == 0 and kept


# A damaged video


def damaged_mp4(path: Path, frames: int) -> Path:
    """A real MPEG-4 file (mp4v) of the drifting face with 2,000 bytes zeroed every 40 kB in its middle half."""
    face = cv2.resize(cv2.imread(str(SAMPLES / "astronaut_2.jpg")), (640, 480))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    for index in range(frames):
        writer.write(np.roll(face, index, axis=1))
    writer.release()
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 4, 3 * len(data) // 4, 40_000):
        data[offset : offset + 2000] = bytes(2000)
    path.write_bytes(bytes(data))
    return path


def decodable_frames(path: Path) -> tuple[list[int], int]:
    """What OpenCV itself decodes, read by read, and the container's frame count."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = [index for index in range(count) if capture.read()[0]]
    capture.release()
    return frames, count


def test_a_damaged_video_is_read_to_its_end_and_the_loss_is_reported(
    tmp_path, shipped_model, broker, listeners, daemons
):
    clip = damaged_mp4(tmp_path / "damaged.mp4", FRAMES)
    decodable, count = decodable_frames(clip)
    listener = listeners(broker)
    daemon = daemons(every_frame_config(tmp_path, shipped_model, clip, broker))
    assert daemon.wait(timeout=90) == 0, daemon.log

    events, duplicates = deduplicated(listener.payloads("/cam/event"))
    lost = count - len(decodable)
    print(
        f"\ndamaged MP4: {len(frames_of(events))} events for the {len(decodable)} frames OpenCV decodes of {count}; "
        f"first undecodable frame {min(set(range(count)) - set(decodable))}"
    )
    assert 0 < lost < count // 4 and min(set(range(count)) - set(decodable)) < count // 2  # damaged mid-file
    assert frames_of(events) == decodable and duplicates == 0
    assert daemon.log.count("cannot be decoded; reading on past damaged frames") == 1
    assert f"{lost} of {count} frames (the container's count) unreadable or missing" in daemon.log
    stats = listener.payloads("/cam/stats")[-1]
    assert stats["frames"] == len(decodable) and stats["skipped"] >= lost - 1
    assert stats["fps"] > 0 and all(stats["latency_ms"][stage] > 0 for stage in ("detect", "classify"))


def test_a_cut_short_video_says_how_many_frames_are_missing(tmp_path, shipped_model):
    from edge.sources import open_source

    whole = face_video(tmp_path / "whole.avi", 60)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = run_edge("run", "--config", str(edge_config(tmp_path, shipped_model, cut)), "--stdout", timeout=60)
    source = open_source(str(cut))
    read = len(list(source.frames(threading.Event())))
    assert result.returncode == 0 and 0 < read < 60
    assert (
        f"{60 - read} of 60 frames (the container's count) unreadable or missing: 0 undecodable, "
        f"{60 - read} missing at the end; {read} read" in result.stderr
    )
    print(f"\ncut-short AVI: {read} of 60 frames read, {60 - read} reported missing")


def test_a_cut_short_mp4_is_one_line_exit_2(tmp_path):
    """mp4v puts its index at the end: cut, the file cannot be opened at all."""
    from common.errors import UserError
    from edge.sources import open_source

    whole = damaged_mp4(tmp_path / "whole.mp4", 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UserError, match="cut.mp4: not a readable video file .*a cut-short MP4 cannot be opened"):
        open_source(str(cut))


# Brokers that never answer


class BlackHole:
    """A port that accepts TCP connections and never says a word."""

    host = "127.0.0.1"

    def __init__(self):
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.held: list[socket.socket] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        try:
            while True:
                self.held.append(self.server.accept()[0])
        except OSError:
            return

    def close(self) -> None:
        """Stop listening for real: a blocked accept() keeps the port open after close() alone."""
        self.server.shutdown(socket.SHUT_RDWR)
        self.accepting.join(5)
        self.server.close()
        for connection in self.held:
            connection.close()


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}


def test_a_black_hole_broker_is_logged_per_attempt_shown_in_metrics_and_loses_nothing(
    tmp_path, shipped_model, listeners, daemons
):
    hole = BlackHole()
    metrics_port = free_port()
    clip = face_video(tmp_path / "clip.avi", 30)
    config = mqtt_settings(
        every_frame_config(tmp_path, shipped_model, clip, hole, extra=f"  metrics:\n    port: {metrics_port}\n"),
        hole,
        "    keepalive_s: 5\n",
    )
    daemon = daemons(config)
    started = time.monotonic()
    daemon.wait_for_log("attempt 1 failed: no answer to CONNECT within edge.mqtt.keepalive_s (5 s)", timeout=30)
    first_line_s = time.monotonic() - started
    assert "next try in 1 s" in daemon.log
    metrics = scrape(metrics_port)
    assert metrics["emotion_edge_mqtt_connected"] == 0 and metrics["emotion_edge_mqtt_connect_failures_total"] >= 1

    hole.close()  # a real broker on that port from now on
    broker = Broker(workdir=tmp_path / "broker", port=hole.port)
    daemon.process.send_signal(signal.SIGSTOP)
    broker.start()
    try:
        listener = listeners(broker)
        daemon.process.send_signal(signal.SIGCONT)
        assert daemon.wait(timeout=60) == 0, daemon.log
    finally:
        broker.stop()
    events, duplicates = deduplicated(listener.payloads("/cam/event"))
    stats = listener.payloads("/cam/stats")
    print(
        f"\nblack hole: first failed attempt logged after {first_line_s:.1f} s (keepalive_s 5); "
        f"{len(frames_of(events))}/30 events once a broker answered, {duplicates} duplicate(s)"
    )
    assert frames_of(events) == list(range(30)) and duplicates == 0
    assert stats and all(message["mqtt"]["state"] == "connecting" for message in stats)  # sent while it was
    assert "connected" in daemon.log and "Traceback" not in daemon.log


def test_plain_mqtt_to_a_tls_port_is_logged_per_attempt(tmp_path, shipped_model, broker_factory, daemons):
    secure = broker_factory(secure=True)
    daemon = daemons(every_frame_config(tmp_path, shipped_model, SAMPLES, secure))
    daemon.wait_for_log("attempt 2 failed", timeout=30)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    attempts = [line for line in daemon.log.splitlines() if "failed: the broker closed the connection" in line]
    assert len(attempts) >= 2 and all("set edge.mqtt.tls" in line for line in attempts), daemon.log
    assert "attempt 1 failed" in attempts[0] and "next try in 1 s" in attempts[0]


# Two daemons, one device name


def test_two_clients_with_one_client_id_are_named_in_one_line_and_stop_flapping(tmp_path, broker, caplog):
    """mosquitto 2.0 closes the older connection without a reason code when a second client connects with its
    id; two daemons with one edge.device then took the session from each other every ~2 s, forever."""
    from edge.config import EdgeConfig
    from edge.publisher import MqttPublisher

    def publisher(name: str) -> MqttPublisher:
        config = EdgeConfig(
            device="same-name",
            mqtt={"host": broker.host, "port": broker.port},
            outbox={"path": tmp_path / f"{name}.db"},
        )
        started = MqttPublisher(config)
        started.start()
        return started

    def said() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if "another client uses client id emotion-edge-same-name" in record.getMessage()
        ]

    pair = [publisher("first"), publisher("second")]
    try:
        started = time.monotonic()
        assert eventually(said, timeout=30)
        named_after_s = time.monotonic() - started
        assert eventually(lambda: [p.connection for p in pair].count("connected") == 1, timeout=5)
        [steady] = [p for p in pair if p.connection == "connected"]
        reconnects = steady.metrics.registry.get_sample_value("emotion_edge_mqtt_reconnects_total")
        time.sleep(5)  # the flapping came every 1-2 s
        assert steady.connection == "connected"
        assert steady.metrics.registry.get_sample_value("emotion_edge_mqtt_reconnects_total") == reconnects
        steady.event("cam", {"n": 1})
        assert steady.flush(timeout=10)
    finally:
        for one in pair:
            one.close()
    lines = said()
    print(f"\ntakeover: named after {named_after_s:.1f} s in {len(lines)} line(s); then one session held for 5 s")
    assert 1 <= len(lines) <= 2 and all("edge.device same-name" in line for line in lines)  # at most one each


# paho's thread and bad input


def test_a_dead_network_thread_fails_the_daemon_instead_of_hanging(tmp_path, shipped_model, broker, caplog):
    """Validation keeps keepalive_s within 16 bits; past it (built here around the validation), paho's thread
    dies in struct.pack: the run must end with exit 1, not wait for a broker forever."""
    from edge.config import EdgeConfig
    from edge.daemon import run

    config = EdgeConfig(
        device="test-dev",
        model=shipped_model,
        mqtt={"host": broker.host, "port": broker.port},
        outbox={"path": tmp_path / "outbox.db"},
        cameras=[{"name": "cam", "source": str(SAMPLES)}],
    )
    config.mqtt = config.mqtt.model_copy(update={"keepalive_s": 70_000})
    started = time.monotonic()
    assert run(config) == 1
    assert time.monotonic() - started < 30
    assert "paho's MQTT network thread died (error: " in caplog.text


def test_a_password_file_that_is_not_utf8_is_one_line_exit_2(tmp_path, shipped_model):
    password = tmp_path / "password"
    password.write_bytes(b"caf\xe9-secret\n")  # Latin-1
    config = tmp_path / "config.yaml"
    config.write_text(f"edge:\n  model: {shipped_model}\n  mqtt:\n    username: u\n    password_file: {password}\n")
    result = run_edge("run", "--config", str(config), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"edge: error: {password}: the MQTT password file is not UTF-8 text (byte 0xe9 at offset 3)"
    )


def test_a_degenerate_image_is_named_not_an_opencv_assertion(tmp_path, shipped_model):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a-strip.png"), np.full((1, 8000, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "b-face.jpg"), cv2.imread(str(SAMPLES / "astronaut_2.jpg")))
    result = run_edge("run", "--config", str(edge_config(tmp_path, shipped_model, folder)), "--stdout", timeout=60)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1  # the face still gets its event
    assert "cam: frame 0 skipped (image too small/degenerate: 8000x1 px" in result.stderr
    assert "Assertion" not in result.stderr


def test_a_password_past_mqtts_limit_is_one_line_not_a_dead_thread(tmp_path):
    from common.errors import UserError
    from edge.config import MqttConfig
    from edge.mqtt_client import read_password

    password = tmp_path / "password"
    password.write_text("x" * 70_000)
    with pytest.raises(UserError, match=r"password: the MQTT password is longer than MQTT's 65535 bytes$"):
        read_password(MqttConfig(username="u", password_file=password))
