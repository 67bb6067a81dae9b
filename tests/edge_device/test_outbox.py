"""The outbox: FIFO, durable across reopen, bounded (drops oldest, counted), thread-safe, one-line errors."""

import sqlite3
import threading
from pathlib import Path

import pytest

from common.errors import UserError
from edge.outbox import Outbox

OWNER = "device test-dev at broker 127.0.0.1:1883"


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "state" / "outbox.db"


def test_pending_is_in_insertion_order_and_ack_removes(db_path):
    with Outbox(db_path, max_messages=10, owner=OWNER) as outbox:
        ids = [outbox.put(f"t/{n}", f"p{n}".encode(), qos=1, retain=n == 2) for n in range(5)]
        pending = outbox.pending(limit=3)
        assert [m.id for m in pending] == ids[:3]
        assert [(m.topic, m.payload, m.qos, m.retain) for m in pending] == [
            ("t/0", b"p0", 1, False),
            ("t/1", b"p1", 1, False),
            ("t/2", b"p2", 1, True),
        ]
        outbox.ack(ids[1])
        outbox.ack(ids[1])  # a duplicate ack is harmless
        assert [m.topic for m in outbox.pending(10)] == ["t/0", "t/2", "t/3", "t/4"]
        assert outbox.depth == 4


def test_survives_reopen_with_wal(db_path):
    outbox = Outbox(db_path, max_messages=10, owner=OWNER)
    first = outbox.put("a", b"1")
    outbox.put("b", b"2")
    outbox.ack(first)
    outbox.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Outbox(db_path, max_messages=10, owner=OWNER) as reopened:
        assert reopened.depth == 1
        assert [(m.topic, m.payload) for m in reopened.pending()] == [("b", b"2")]
        assert reopened.put("c", b"3") > first  # ids are never reused


def test_overflow_drops_oldest_and_counts_persistently(db_path):
    with Outbox(db_path, max_messages=3, owner=OWNER) as outbox:
        for n in range(5):
            outbox.put("t", str(n).encode())
        assert [m.payload for m in outbox.pending(10)] == [b"2", b"3", b"4"]
        assert (outbox.depth, outbox.dropped) == (3, 2)
    with Outbox(db_path, max_messages=2, owner=OWNER) as smaller:  # a lower bound applies on the next put
        smaller.put("t", b"5")
        assert [m.payload for m in smaller.pending(10)] == [b"4", b"5"]
        assert smaller.dropped == 4


def test_concurrent_put_and_ack(db_path):
    outbox = Outbox(db_path, max_messages=10_000, owner=OWNER)
    total = 400
    put_done = threading.Event()

    def producer():
        for n in range(total):
            outbox.put("t", n.to_bytes(2, "big"))
        put_done.set()

    seen = []

    def acker():
        while not (put_done.is_set() and outbox.depth == 0):
            for message in outbox.pending(50):
                seen.append(int.from_bytes(message.payload, "big"))
                outbox.ack(message.id)

    threads = [threading.Thread(target=producer), threading.Thread(target=acker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == list(range(total))
    assert (outbox.depth, outbox.dropped) == (0, 0)
    outbox.close()


def test_corrupt_database_is_one_line_user_error(tmp_path):
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(UserError) as error:
        Outbox(path, max_messages=10, owner=OWNER)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "edge.outbox.path" in message
    assert error.value.exit_code == 2  # no restart cures it, so systemd must not retry it every 5 s


def test_a_full_disk_is_retried_and_a_read_only_one_is_not():
    import errno
    import sqlite3

    from edge.outbox import is_lasting

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorname = "SQLITE_FULL"
    assert not is_lasting(full) and not is_lasting(OSError(errno.ENOSPC, "No space left on device"))
    assert is_lasting(OSError(errno.EROFS, "Read-only file system"))
    readonly = sqlite3.OperationalError("attempt to write a readonly database")
    readonly.sqlite_errorname = "SQLITE_READONLY_DIRECTORY"  # the extended name sqlite3 reports
    assert is_lasting(readonly)


def test_unwritable_path_is_one_line_user_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = blocker / "outbox.db"  # works as root too: a regular file cannot hold a folder
    with pytest.raises(UserError) as error:
        Outbox(path, max_messages=10, owner=OWNER)
    assert "\n" not in str(error.value) and str(path) in str(error.value) and error.value.exit_code == 2


def test_default_path_is_one_per_device_and_broker_in_systemds_state_directory_else_xdg(monkeypatch, tmp_path):
    from edge.config import EdgeConfig

    def default_path(**settings):
        return EdgeConfig(**settings).outbox.path

    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/emotion-edge:/var/lib/other")
    assert default_path(device="door") == Path("/var/lib/emotion-edge/outbox-door-localhost-1883.db")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert (
        default_path(device="door", mqtt={"host": "fe80::1%eth0", "port": 8883})
        == tmp_path / "emotion-edge" / "outbox-door-fe80__1_eth0-8883.db"
    )
    paths = {default_path(device=device, mqtt={"host": host}) for device in ("a", "b") for host in ("x", "y")}
    assert len(paths) == 4
    assert default_path(device="a", outbox={"path": tmp_path / "mine.db"}) == tmp_path / "mine.db"  # as given


def test_messages_of_another_device_or_broker_are_never_handed_to_this_one(db_path):
    """One file, two owners: a run for another broker must not send what was stored for this one. An empty
    file changes hands freely; one with messages is refused, in one line, until its owner comes back."""
    with Outbox(db_path, max_messages=10, owner=OWNER) as outbox:
        outbox.put("emotion/test-dev/cam/event", b"for broker 1")
    other = "device test-dev at broker 10.0.0.9:1883"
    with pytest.raises(UserError) as error:
        Outbox(db_path, max_messages=10, owner=other)
    message = str(error.value)
    assert "holds 1 message(s) for device test-dev at broker 127.0.0.1:1883, not for " + other in message
    assert "\n" not in message and error.value.exit_code == 2
    with Outbox(db_path, max_messages=10, owner=OWNER) as outbox:  # its owner still gets them
        [message] = outbox.pending()
        outbox.ack(message.id)
    with Outbox(db_path, max_messages=10, owner=other) as outbox:  # empty: the other run may have it
        assert outbox.depth == 0


def test_a_refused_message_stays_counted_and_leaves_only_by_the_bound(db_path):
    with Outbox(db_path, max_messages=3, owner=OWNER) as outbox:
        ids = [outbox.put("t", str(n).encode()) for n in range(3)]
        outbox.refuse(ids[0])
        outbox.refuse(ids[0])
        assert (outbox.depth, outbox.refused) == (3, 1)
        outbox.put("t", b"3")  # the bound drops the oldest, the refused one: no longer counted
        assert (outbox.depth, outbox.refused, outbox.dropped) == (3, 0, 1)
        outbox.refuse(ids[0])  # gone: refusing it again changes nothing
        assert outbox.refused == 0
    with Outbox(db_path, max_messages=3, owner=OWNER) as reopened:  # the next start tries refused ones again
        assert reopened.refused == 0 and [m.payload for m in reopened.pending()] == [b"1", b"2", b"3"]


def test_a_shared_outbox_of_an_earlier_version_is_mentioned_not_sent(tmp_path, monkeypatch, caplog):
    """Before outboxes were per device and broker, one ``outbox.db`` served every run: its messages' broker is
    unknown, so they are not sent, and one line says how to send them."""
    from edge.config import EdgeConfig
    from edge.publisher import MqttPublisher
    from tests.support import free_port

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    shared = tmp_path / "emotion-edge" / "outbox.db"
    with Outbox(shared, max_messages=10, owner="unknown") as old:
        old.put("emotion/old/cam/event", b"{}")
    publisher = MqttPublisher(EdgeConfig(device="d", mqtt={"host": "127.0.0.1", "port": free_port()}))
    publisher.start()
    publisher.close()
    assert publisher.outbox.path == tmp_path / "emotion-edge" / f"outbox-d-127.0.0.1-{publisher.config.mqtt.port}.db"
    assert f"{shared}: 1 message(s) stored by an earlier version" in caplog.text
    assert f"run once with edge.outbox.path: {shared}" in caplog.text
