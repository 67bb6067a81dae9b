"""A bounded, persistent FIFO of outgoing MQTT messages: no event is lost to a broker outage or a restart.

Every message is written to SQLite before it is handed to the MQTT client and deleted only when the broker
has acknowledged it, so a crash, a power-cycled broker or ``systemctl restart`` re-sends instead of losing.
The queue is bounded: a week-long outage must not fill the SD card, so past ``max_messages`` the *oldest*
messages go (the newest state is what a consumer wants) and a persisted ``dropped`` counter says how many.

A file belongs to one device and one broker (``owner``, recorded in it): messages stored for one broker are
never handed to another, so a file that still holds another owner's messages is refused at open. Opening
also writes (the owner), so a disk too full to record acknowledgements is found before anything is sent,
not after the backlog went out once more.

WAL mode with ``synchronous=NORMAL`` makes each put one sequential append that survives a process crash;
only a power cut can lose the last few transactions, a fair trade against SD-card wear. ``depth`` and
``dropped`` change only once a transaction has committed, so a failed write (a full disk) is never counted.

API (thread-safe; the pipeline threads put, the publisher's sender thread reads and acks)::

    outbox = Outbox(path, max_messages, owner)    # OutboxError: not a database, not writable, another owner's
    message_id = outbox.put(topic, payload, qos, retain)
    for message in outbox.pending(limit, after=0):  # oldest first; Message(id, topic, payload, qos, retain)
        ...publish...; on the broker's ack: outbox.ack(message.id); on its refusal: outbox.refuse(message.id)
    outbox.depth, outbox.refused, outbox.dropped; outbox.close()

Ids are never reused (AUTOINCREMENT), so a late ack for a message that was dropped meanwhile is harmless.
A refused message stays stored (``depth`` counts it, ``refused`` too) and is tried again by the next start,
when the broker's ACL or the device's settings may have been fixed.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from common.errors import Unavailable, UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped', 0);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# Failures no restart cures: the file is not a database, or the service may not write where it is.
LASTING_SQLITE = {"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"}
# EEXIST: a file stands where the outbox's folder should be made.
LASTING_ERRNO = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


class OutboxError(UserError):
    """The outbox database cannot be opened or written. A full disk or an I/O error may clear, so it exits
    69 and systemd restarts the daemon; a corrupt file or a path the service may not write (read-only under
    ``ProtectSystem=strict``) exits 2, which the unit does not restart every 5 s forever."""

    def __init__(self, message: str, lasting: bool = False):
        super().__init__(message)
        self.exit_code = UserError.exit_code if lasting else Unavailable.exit_code


def is_lasting(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "")  # from Python 3.11; an extended name, SQLITE_READONLY_DIRECTORY
        return any(name == primary or name.startswith(f"{primary}_") for primary in LASTING_SQLITE)
    return getattr(exc, "errno", None) in LASTING_ERRNO


def stored_count(path: Path) -> int:
    """How many messages an outbox file holds, read without writing; 0 for no file or not an outbox."""
    if not Path(path).is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    except sqlite3.Error:
        return 0


@dataclass(frozen=True)
class Message:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    def __init__(self, path: Path, max_messages: int, owner: str):
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.path = Path(path)
        self.max_messages = max_messages
        self.owner = owner
        self._lock = threading.Lock()
        self._refused: set[int] = set()  # ids the broker refused in this process; they stay stored
        with self._guard("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                self._depth = self._prepare(self._db)
                self._claim(owner)
            except (sqlite3.Error, OutboxError):
                self._db.close()
                raise

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> int:
        """Set durability, create the tables on first use; returns the number of messages waiting."""
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        return db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def _claim(self, owner: str) -> None:
        """Record ``owner``: the write that proves acknowledgements can be recorded, and the guard that keeps
        one broker's messages from going to another. A file with none pending changes owner freely."""
        row = self._db.execute("SELECT value FROM settings WHERE name = 'owner'").fetchone()
        if row is not None and row[0] != owner and self._depth:
            raise OutboxError(
                f"{self.path}: holds {self._depth} message(s) for {row[0]}, not for {owner}; they are never sent "
                "to another device's or broker's session: give this run its own edge.outbox.path (or restore "
                "the settings they were stored with, so they go out)",
                lasting=True,
            )
        with self._write():
            self._db.execute("INSERT OR REPLACE INTO settings (name, value) VALUES ('owner', ?)", (owner,))

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn storage failures into one line naming the file and the setting that chose it."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(
                f"{self.path}: cannot {action} the outbox database ({exc}); check edge.outbox.path", is_lasting(exc)
            ) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on leaving (the caller holds the lock): on any failure, the COMMIT's
        own included (a full disk fails there), it is rolled back and the caller's counts stay as they were."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Store a message; when over the bound, drop the oldest ones and count them. Returns its id."""
        with self._lock, self._guard("write to"):
            with self._write() as db:
                message_id = db.execute(
                    "INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                    (topic, bytes(payload), qos, int(retain)),
                ).lastrowid
                excess = self._depth + 1 - self.max_messages
                dropped = [
                    row[0] for row in db.execute("SELECT id FROM messages ORDER BY id LIMIT ?", (max(excess, 0),))
                ]
                if dropped:
                    db.execute("DELETE FROM messages WHERE id <= ?", (dropped[-1],))
                    db.execute("UPDATE counters SET value = value + ? WHERE name = 'dropped'", (len(dropped),))
            self._depth += 1 - len(dropped)  # committed: only now does it count
            self._refused.difference_update(dropped)
        return message_id

    def pending(self, limit: int = 100, after: int = 0) -> list[Message]:
        """The oldest ``limit`` unacknowledged messages with an id above ``after``, in the order they were put
        (``after`` lets a sender skip the ones it has already handed to the MQTT client)."""
        with self._lock, self._guard("read"):
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain FROM messages WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        return [Message(id, topic, bytes(payload), qos, bool(retain)) for id, topic, payload, qos, retain in rows]

    def ack(self, message_id: int) -> None:
        """Forget a message the broker has acknowledged; unknown (already dropped or acked) ids are ignored."""
        with self._lock, self._guard("write to"):
            with self._write() as db:
                deleted = db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount
            self._depth -= deleted

    def refuse(self, message_id: int) -> None:
        """The broker refused this message (MQTT 5 reason code): keep it, count it, never hand it over again
        in this process (the sender reads on past it); the next start tries it again."""
        with self._lock, self._guard("read"):
            if self._db.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                self._refused.add(message_id)  # not if the bound dropped it meanwhile

    @property
    def depth(self) -> int:
        """Messages stored: waiting for an acknowledgement, or refused by the broker."""
        return self._depth

    @property
    def refused(self) -> int:
        """Stored messages the broker refused in this process."""
        return len(self._refused)

    @property
    def dropped(self) -> int:
        """Messages ever dropped because the outbox was full, across restarts."""
        with self._lock, self._guard("read"):
            return self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
