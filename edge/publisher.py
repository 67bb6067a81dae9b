"""Where events and stats go: an MQTT broker (paho-mqtt 2.x, MQTT 5 by default), or stdout as JSON lines
(``--stdout``).

Topics (``prefix`` = ``edge.mqtt.topic_prefix``)::

    {prefix}/{device}/availability     "online" / "offline", retained; "offline" is also the last will
    {prefix}/{device}/{camera}/event   one emotion event (see edge.events)
    {prefix}/{device}/{camera}/stats   periodic pipeline statistics, with the outbox's numbers and the connection state
    {prefix}/{device}/{camera}/state   Home Assistant state, retained (only with edge.homeassistant.discovery)

No event is lost: with QoS 1/2 (the default is 1) every message is first stored in the persistent
``Outbox`` (edge.outbox) and deleted only once the broker has acknowledged it. One sender thread hands the
oldest stored messages to paho while connected, at most ``WINDOW`` unacknowledged at a time, so a long
outage fills the bounded file on disk, never memory. Messages already handed over when a connection drops
are re-sent by paho on reconnect, ahead of the rest; those still stored when the process dies are re-sent
by the next start, first. Delivery is therefore in order and at least once (a message whose PUBACK was lost
in a crash can arrive twice). QoS 0 means "at most once" by definition and bypasses the outbox: published
while connected, dropped by paho otherwise. "online"/"offline" bypass it too: they describe the
connection at hand, and a stale "online" replayed after a restart would lie.

An acknowledgement is not always a delivery: under MQTT 5 the broker's answer carries a reason code, and a
message it refuses (an ACL that does not allow the topic) stays in the outbox, is counted (stats, metrics),
named in one log line per topic, and tried again by the next start; a finite run that ends with refused
messages does not exit 0. Under MQTT 3.1.1 (``edge.mqtt.protocol``, for old brokers) a refused publish is
acknowledged like any other and cannot be told apart.

A broker that is down at start or goes away later is retried by paho's network thread with capped
exponential backoff (1 s to 30 s). Until the first connection every failed attempt is logged with its
reason and the next try; after it, an outage is logged once per state change. Two daemons with one client
id (one ``edge.device``: the default is the host name) take each other's session in turns, every second or
two: a session the broker closes right after it opened, ``TAKEOVER_SESSIONS`` times in a row (or at once
under MQTT 5 when the broker says "Session taken over"; mosquitto 2.0 closes the socket without saying),
is named in one line, and reconnects then wait ``RECONNECT_MAX_S`` so the other keeps its session. If
paho's network thread dies, publishing fails (exit 1) instead of waiting forever.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

import paho.mqtt.client as mqtt

from common.errors import one_line
from edge.classifier import read_labels
from edge.config import EdgeConfig, default_state_dir
from edge.homeassistant import (
    OFFLINE,
    ONLINE,
    DiscoveryMessage,
    availability_topic,
    discovery_messages,
    state_payload,
    state_topic,
)
from edge.metrics import Metrics
from edge.mqtt_client import RECONNECT_MAX_S, RECONNECT_MIN_S, SESSION_TAKEN_OVER, build_client, client_id, retry_delay
from edge.outbox import Message, Outbox, OutboxError, stored_count
from edge.publishing import DaemonPublisher

log = logging.getLogger(__name__)

OFFLINE_ACK_TIMEOUT_S = 0.5  # on shutdown, how long to wait for the broker to take "offline"
WINDOW = 100  # messages handed to paho and not yet acknowledged; the rest wait in the outbox on disk
KEEPALIVE_TIMEOUT = 0x8D  # paho's reason code when the broker stayed silent for a keepalive period
CONNECTING, CONNECTED, DISCONNECTED = "connecting", "connected", "disconnected"  # never yet, now, lost
SHORT_SESSION_S = 10  # a session the broker closes sooner than this, with the broker still up, was short
# Short sessions in a row that mean another client uses our client id: more than a broker restarted thrice in
# quick succession gives.
TAKEOVER_SESSIONS = 5


class StdoutPublisher(DaemonPublisher):
    """Events as JSON lines on stdout, the demo path with no broker; stats go to the debug log."""

    def __init__(self):
        self._lines = threading.Lock()  # cameras print from their own threads: keep lines whole

    def start(self) -> None:
        """Nothing to connect."""

    def event(self, camera: str, event: dict) -> None:
        with self._lines:
            print(json.dumps(event), flush=True)

    def stats(self, camera: str, stats: dict) -> None:
        log.debug("%s stats: %s", camera, json.dumps(stats))

    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        """Home Assistant state has no meaning without a broker."""

    def flush(self, timeout: float) -> bool:
        return True

    connection = None  # no broker
    unacked = 0  # printed lines need no acknowledgement
    refused = 0  # nor can they be refused
    error = None  # printing does not fail in the background

    def close(self) -> None:
        sys.stdout.flush()


class MqttPublisher(DaemonPublisher):
    def __init__(self, config: EdgeConfig, metrics: Metrics | None = None):
        self.config = config
        self.qos = config.mqtt.qos
        self.metrics = metrics or Metrics()
        self.outbox = Outbox(config.outbox.path, config.outbox.max_messages, config.outbox_owner)
        self.metrics.watch_outbox(self.outbox)
        self.metrics.queue_depth.labels("mqtt_in_flight").set_function(lambda: len(self._in_flight))
        self.metrics.mqtt_connected.set_function(lambda: self.connection == CONNECTED)
        self.client = build_client(config)
        self.client.on_pre_connect = self._on_pre_connect
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_thread_died = self._on_thread_died
        self._discovery = self._discovery_messages(config)
        self._wake = threading.Condition()
        self._due = True  # something to do for the sender: new messages, a connection or acknowledgements
        self._closing = False
        self._in_flight: list[tuple[mqtt.MQTTMessageInfo, Message]] = []  # handed to paho, oldest first; sender only
        self._answers: dict[int, object] = {}  # mid -> None (acknowledged) or the reason the broker refused it
        self._handed = 0  # the newest outbox id handed to paho by this process
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self.connection = CONNECTING
        self._attempt_open = False  # a connection attempt is under way and has not been reported
        self.failed_attempts = 0  # in a row, since the last connection
        self._connected_at = 0.0
        self._short_sessions = 0  # sessions in a row the broker closed soon after opening them
        self._takeover_said = False
        self._refused_topics: set[str] = set()  # each is logged once
        self.error: str | None = None  # why publishing stopped, if it did

    @staticmethod
    def _discovery_messages(config: EdgeConfig) -> list[DiscoveryMessage]:
        if not config.homeassistant.discovery:
            return []
        return discovery_messages(config, read_labels(config.model))

    @property
    def _ha_status_topic(self) -> str:
        return f"{self.config.homeassistant.discovery_prefix}/status"

    @property
    def _address(self) -> str:
        return self.config.mqtt.address

    def start(self) -> None:
        """Connect in the background: a broker that is down does not block or kill the daemon."""
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive_s)
        if self.outbox.depth:
            log.info(
                "outbox %s: %d message(s) from before the restart go out first", self.outbox.path, self.outbox.depth
            )
        self._mention_shared_outbox()
        log.info("MQTT broker %s: connecting (MQTT %s)", self._address, self.config.mqtt.protocol)
        self._sender.start()
        self.client.loop_start()

    def _mention_shared_outbox(self) -> None:
        """Earlier versions kept one ``outbox.db`` for every run, whatever its device or broker. What it still
        holds is not sent (its broker is unknown), but not forgotten either: one line says where it is."""
        shared = default_state_dir() / "outbox.db"
        left = stored_count(shared) if shared != self.outbox.path else 0
        if left:
            log.warning(
                "%s: %d message(s) stored by an earlier version for a broker it did not record; not sent. "
                "To send them to %s, run once with edge.outbox.path: %s",
                shared,
                left,
                self._address,
                shared,
            )

    def event(self, camera: str, event: dict) -> None:
        self._send(self._camera_topic(camera, "event"), json.dumps(event))

    def stats(self, camera: str, stats: dict) -> None:
        try:
            outbox = {"depth": self.outbox.depth, "dropped": self.outbox.dropped, "refused": self.outbox.refused}
        except OutboxError as exc:
            self._fail(exc)
            return
        connection = {"state": self.connection, "failed_attempts": self.failed_attempts}
        self._send(self._camera_topic(camera, "stats"), json.dumps({**stats, "outbox": outbox, "mqtt": connection}))

    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        """The Home Assistant sensors' state, retained so HA shows it right after a restart of either side."""
        if self._discovery:
            self._send(state_topic(self.config, camera), state_payload(emotion, faces), retain=True)

    def flush(self, timeout: float) -> bool:
        """True once the broker has answered every stored message (acknowledged it, or refused it: see
        ``refused``); False on timeout or failure."""
        with self._wake:
            return (
                self._wake.wait_for(lambda: self._nothing_to_send() or self.error is not None, timeout)
                and self.error is None
            )

    def _nothing_to_send(self) -> bool:
        return self.outbox.depth == self.outbox.refused

    @property
    def unacked(self) -> int:
        return self.outbox.depth

    @property
    def refused(self) -> int:
        """Messages the broker refused in this run; they stay in the outbox."""
        return self.outbox.refused

    def close(self) -> None:
        """Stop sending, say "offline" (retained) while still connected, then disconnect; the will covers a
        crash. Whatever the broker has not acknowledged stays in the outbox for the next start."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._sender.is_alive():
            self._sender.join()
        if self.connection == CONNECTED:
            info = self.client.publish(availability_topic(self.config), OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(OFFLINE_ACK_TIMEOUT_S)
            except RuntimeError:
                log.warning("MQTT broker %s: could not publish 'offline' on shutdown", self._address)
        self.client.disconnect()
        self.client.loop_stop()
        if self.outbox.depth:
            refused = f", {self.outbox.refused} of them refused by the broker" if self.outbox.refused else ""
            log.warning(
                "outbox %s: %d message(s) not acknowledged%s; they go out on the next start",
                self.outbox.path,
                self.outbox.depth,
                refused,
            )
        self.outbox.close()

    def _camera_topic(self, camera: str, kind: str) -> str:
        return f"{self.config.mqtt.topic_prefix}/{self.config.device}/{camera}/{kind}"

    def _send(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        """Store, then let the sender thread publish; QoS 0 goes straight out (see the module doc)."""
        if self.qos == 0:
            self.client.publish(topic, payload, qos=0, retain=retain)
            return
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            self.outbox.put(topic, data, self.qos, retain)
        except OutboxError as exc:
            self._fail(exc)
            return
        self._poke()

    def _poke(self) -> None:
        """Wake the sender (also from paho's callbacks: it only takes this lock, never paho's)."""
        with self._wake:
            self._due = True
            self._wake.notify_all()

    def _send_loop(self) -> None:
        """The only thread that hands stored messages to paho and deletes acknowledged ones."""
        try:
            self._send_until_closed()
        except OutboxError as exc:
            self._fail(
                exc,
                "the outbox cannot record what the broker acknowledged, so nothing more is sent (the "
                "backlog would only go out again and again); what was delivered meanwhile is sent once "
                "more after the restart",
            )
        except Exception as exc:  # noqa: BLE001 - the thread's last stop: report it, never die silently
            self._fail(exc)

    def _send_until_closed(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._due or self._closing)
                if self._closing or self.error is not None:
                    return
                self._due = False
            self._collect_answers()
            room = WINDOW - len(self._in_flight) if self.connection == CONNECTED else 0
            batch = self.outbox.pending(room, after=self._handed) if room > 0 else []
            for message in batch:
                info = self.client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
                self._in_flight.append((info, message))
                self._handed = message.id
            if batch and len(batch) == room:
                self._poke()  # more may be waiting: come back once acks make room

    def _collect_answers(self) -> None:
        """Delete what the broker acknowledged (PUBACK/PUBCOMP), keep what it refused; wake ``flush`` when
        something was answered.

        Every message handed over is in ``_in_flight`` before this runs (the same thread hands them over),
        so an answered id matching none of them belongs to a message outside the outbox ("online")."""
        with self._wake:
            answers, self._answers = self._answers, {}
        waiting = []
        for info, message in self._in_flight:
            if info.mid not in answers:
                waiting.append((info, message))
            elif answers[info.mid] is None:
                self.outbox.ack(message.id)
            else:
                self._refused(message, answers[info.mid])
        if len(waiting) != len(self._in_flight):
            self._in_flight = waiting
            with self._wake:
                self._wake.notify_all()

    def _refused(self, message: Message, reason) -> None:
        """Kept in the outbox, counted, and named once per topic: a refusal is a setting to fix (the broker's
        ACL, edge.mqtt.topic_prefix, edge.device), not a delivery."""
        self.outbox.refuse(message.id)
        self.metrics.refused.inc()
        if message.topic not in self._refused_topics:
            self._refused_topics.add(message.topic)
            user = self.config.mqtt.username or "anonymous"
            log.error(
                "MQTT broker %s refused a message on %s (%s); it stays in the outbox and is tried again on "
                "the next start: check the broker's ACL for user %s against edge.mqtt.topic_prefix and "
                "edge.device",
                self._address,
                message.topic,
                reason,
                user,
            )

    def _fail(self, exc: Exception | str, why: str | None = None) -> None:
        """Publishing cannot go on (the outbox's disk is full or gone, paho's thread died, from whichever thread
        found it): log it once and wake ``flush``; the daemon sees ``error``, stops and exits 1 so systemd
        restarts it, and the messages already stored wait for the next start."""
        if self.error is None:
            self.error = one_line(exc) if isinstance(exc, BaseException) else exc
            log.error("MQTT publishing stopped: %s%s", self.error, f"; {why}" if why else "")
        with self._wake:
            self._wake.notify_all()

    def _announce(self) -> None:
        """Home Assistant discovery configs, retained, through the outbox like everything else."""
        for message in self._discovery:
            self._send(message.topic, message.payload, retain=message.retain)

    def _on_pre_connect(self, client, userdata) -> None:
        self._attempt_open = True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._attempt_failed(f"refused the connection ({reason_code}); check edge.mqtt.username and the password")
            return
        self._attempt_open = False
        if self.connection == DISCONNECTED:
            self.metrics.reconnects.inc()
        self.failed_attempts = 0
        self._connected_at = time.monotonic()
        self._set_state(CONNECTED, "connected")
        client.publish(availability_topic(self.config), ONLINE, qos=1, retain=True)
        if self._discovery:
            client.subscribe(self._ha_status_topic, qos=1)
            self._announce()
        self._poke()

    def _on_message(self, client, userdata, message) -> None:
        """Home Assistant says "online" when it (re)starts: announce again, as HA's documentation asks."""
        if message.topic == self._ha_status_topic and message.payload == ONLINE.encode():
            log.info("Home Assistant is online: publishing discovery again")
            self._announce()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        """Record the broker's answer by message id. Not read from the ``MQTTMessageInfo``: paho calls this
        before it marks the info published, and ``is_published()`` raises for a message first handed over
        while the connection was dropping (paho kept it, re-sent it on reconnect, and the broker took it)."""
        refusal = client.refusal(mid, reason_code)
        with self._wake:
            self._answers[mid] = refusal
        self._poke()

    def _on_connect_fail(self, client, userdata) -> None:
        """paho calls this inside its ``except OSError``, so the reason (refused, a failed name lookup, a
        certificate that does not verify) is at hand and goes into the log line."""
        reason = sys.exc_info()[1]
        self._attempt_failed(f"unreachable ({one_line(reason)})" if reason else "unreachable")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._closing:
            return  # our own disconnect
        if self.connection == CONNECTED:
            self._count_short_session(reason_code)
            self._set_state(DISCONNECTED, f"connection lost ({reason_code})")
        elif self._attempt_open:
            self._attempt_failed(self._unanswered(reason_code))

    def _unanswered(self, reason_code) -> str:
        """Why a connection closed before the broker answered CONNECT, with what usually causes it."""
        settings = self.config.mqtt
        tls = ", or a TLS port (then set edge.mqtt.tls)" if settings.tls is None else ""
        if reason_code == KEEPALIVE_TIMEOUT:
            return f"no answer to CONNECT within edge.mqtt.keepalive_s ({settings.keepalive_s} s): is it an MQTT broker{tls}?"
        return (
            f"the broker closed the connection before answering ({reason_code}): does it speak MQTT "
            f"{settings.protocol} (edge.mqtt.protocol){tls}?"
        )

    def _count_short_session(self, reason_code) -> None:
        """A session closed by the broker soon after it opened, again and again while every reconnect works at
        once, is another client taking it (a silent broker, keepalive, is not that)."""
        short = time.monotonic() - self._connected_at < SHORT_SESSION_S and reason_code != KEEPALIVE_TIMEOUT
        self._short_sessions = self._short_sessions + 1 if short else 0
        if reason_code == SESSION_TAKEN_OVER or self._short_sessions >= TAKEOVER_SESSIONS:
            self._taken_over(reason_code)
        elif not short:
            self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)  # a session that lasted: back to normal

    def _taken_over(self, reason_code) -> None:
        """Two daemons with one ``edge.device`` take the session from each other every second or two, forever,
        and their availability flaps: say so once, and wait ``RECONNECT_MAX_S`` before each reconnect so the
        other keeps its session in between."""
        if not self._takeover_said:
            self._takeover_said = True
            how = (
                "the broker says another client took over this session"
                if reason_code == SESSION_TAKEN_OVER
                else f"the broker closed this session within {SHORT_SESSION_S} s of opening it {self._short_sessions} "
                "times in a row, reconnecting at once each time"
            )
            log.error(
                "MQTT broker %s: %s: another client uses client id %s (two daemons with edge.device %s? the "
                "default is the host name); give each its own edge.device or edge.mqtt.client_id. Reconnecting "
                "every %d s meanwhile",
                self._address,
                how,
                client_id(self.config),
                self.config.device,
                RECONNECT_MAX_S,
            )
        self.client.reconnect_delay_set(RECONNECT_MAX_S, RECONNECT_MAX_S)

    def _on_thread_died(self, exc: BaseException) -> None:
        self.connection = DISCONNECTED
        self._fail(f"paho's MQTT network thread died ({one_line(exc)})")

    def _attempt_failed(self, why: str) -> None:
        """Before the first connection every failed attempt is a line (with when the next one comes): a broker
        that never answers must not look like a quiet start. After it, an outage is one line."""
        if not self._attempt_open:
            return  # already reported (a refused CONNACK is followed by the socket closing)
        self._attempt_open = False
        self.failed_attempts += 1
        self._short_sessions = 0  # the broker was not there: not a takeover
        self.metrics.connect_failures.inc()
        if self.connection == CONNECTING:
            log.warning(
                "MQTT broker %s: attempt %d failed: %s; next try in %d s",
                self._address,
                self.failed_attempts,
                why,
                retry_delay(self.failed_attempts),
            )
        else:
            self._set_state(DISCONNECTED, why)

    def _set_state(self, state: str, why: str) -> None:
        """Log state changes only, so an hour-long outage is one line, not one per retry."""
        changed, self.connection = state != self.connection, state  # the sender reads it: set it first
        if changed and state == CONNECTED:
            log.info("MQTT broker %s: %s", self._address, why)
        elif changed:
            log.warning("MQTT broker %s: %s; retrying with backoff up to %d s", self._address, why, RECONNECT_MAX_S)
