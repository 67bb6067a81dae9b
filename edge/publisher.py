"""Where events and stats go: an MQTT broker (paho-mqtt 2.x), or stdout as JSON lines (``--stdout``).

Topics (``prefix`` = ``edge.mqtt.topic_prefix``)::

    {prefix}/{device}/availability     "online" / "offline", retained; "offline" is also the last will
    {prefix}/{device}/{camera}/event   one emotion event (see edge.events)
    {prefix}/{device}/{camera}/stats   periodic pipeline statistics, with the outbox's depth and drop count
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

A broker that is down at start or goes away later is retried by paho's network thread with capped
exponential backoff (1 s to 30 s), logged once per state change.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import sys
import threading

import paho.mqtt.client as mqtt

from edge.config import EdgeConfig, MqttConfig
from edge.errors import UserError, one_line
from edge.classifier import read_labels
from edge.homeassistant import (OFFLINE, ONLINE, DiscoveryMessage, availability_topic, discovery_messages,
                                state_payload, state_topic)
from edge.metrics import Metrics
from edge.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
OFFLINE_ACK_TIMEOUT_S = 0.5  # on shutdown, how long to wait for the broker to take "offline"
WINDOW = 100  # messages handed to paho and not yet acknowledged; the rest wait in the outbox on disk


class StdoutPublisher:
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

    unacked = 0  # printed lines need no acknowledgement
    error = None  # printing does not fail in the background

    def close(self) -> None:
        sys.stdout.flush()


def read_password(config: MqttConfig) -> str | None:
    """From ``password_file`` (first line) or the environment variable ``password_env``, never from the YAML."""
    if config.password_file is not None:
        try:
            return config.password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise UserError(f"{config.password_file}: cannot read the MQTT password ({exc})") from None
    if config.password_env is not None:
        if config.password_env not in os.environ:
            raise UserError(f"edge.mqtt.password_env: environment variable {config.password_env} is not set")
        return os.environ[config.password_env]
    return None


def build_client(config: EdgeConfig) -> mqtt.Client:
    """A configured, not yet connected client: credentials, TLS, last will, reconnect backoff."""
    settings = config.mqtt
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id or f"emotion-edge-{config.device}"
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, read_password(settings))
    if settings.tls is not None:
        try:
            client.tls_set(
                ca_certs=_path(settings.tls.ca_file), certfile=_path(settings.tls.cert_file),
                keyfile=_path(settings.tls.key_file), cert_reqs=ssl.CERT_REQUIRED,
            )
        except (OSError, ssl.SSLError) as exc:
            raise UserError(f"edge.mqtt.tls: cannot load the certificates ({exc})") from None
        client.tls_insecure_set(settings.tls.insecure)
    client.will_set(availability_topic(config), OFFLINE, qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    return client


def _path(value) -> str | None:
    return str(value) if value is not None else None


class MqttPublisher:
    def __init__(self, config: EdgeConfig, metrics: Metrics | None = None):
        self.config = config
        self.qos = config.mqtt.qos
        self.metrics = metrics or Metrics()
        self.outbox = Outbox(config.outbox.path, config.outbox.max_messages)
        self.metrics.watch_outbox(self.outbox)
        self.metrics.queue_depth.labels("mqtt_in_flight").set_function(lambda: len(self._in_flight))
        self.client = build_client(config)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._discovery = self._discovery_messages(config)
        self._wake = threading.Condition()
        self._due = True  # something to do for the sender: new messages, a connection or acknowledgements
        self._closing = False
        self._in_flight: list[tuple[mqtt.MQTTMessageInfo, int]] = []  # handed to paho, oldest first; sender only
        self._acked: set[int] = set()  # message ids (mid) the broker acknowledged, not yet matched by the sender
        self._handed = 0  # the newest outbox id handed to paho by this process
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._connected: bool | None = None
        self._ever_connected = False
        self.error: str | None = None  # why publishing stopped (the outbox failed), if it did

    @staticmethod
    def _discovery_messages(config: EdgeConfig) -> list[DiscoveryMessage]:
        if not config.homeassistant.discovery:
            return []
        return discovery_messages(config, read_labels(config.model))

    @property
    def _ha_status_topic(self) -> str:
        return f"{self.config.homeassistant.discovery_prefix}/status"

    def start(self) -> None:
        """Connect in the background: a broker that is down does not block or kill the daemon."""
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive_s)
        if self.outbox.depth:
            log.info("outbox %s: %d message(s) from before the restart go out first", self.outbox.path, self.outbox.depth)
        self._sender.start()
        self.client.loop_start()

    def event(self, camera: str, event: dict) -> None:
        self._send(self._camera_topic(camera, "event"), json.dumps(event))

    def stats(self, camera: str, stats: dict) -> None:
        try:
            outbox = {"depth": self.outbox.depth, "dropped": self.outbox.dropped}
        except OutboxError as exc:
            self._fail(exc)
            return
        self._send(self._camera_topic(camera, "stats"), json.dumps({**stats, "outbox": outbox}))

    def state(self, camera: str, emotion: str | None, faces: int) -> None:
        """The Home Assistant sensors' state, retained so HA shows it right after a restart of either side."""
        if self._discovery:
            self._send(state_topic(self.config, camera), state_payload(emotion, faces), retain=True)

    def flush(self, timeout: float) -> bool:
        """True once the broker has acknowledged every stored message; False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: self.outbox.depth == 0 or self.error is not None, timeout) \
                and self.error is None

    @property
    def unacked(self) -> int:
        return self.outbox.depth

    def close(self) -> None:
        """Stop sending, say "offline" (retained) while still connected, then disconnect; the will covers a
        crash. Whatever the broker has not acknowledged stays in the outbox for the next start."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._sender.is_alive():
            self._sender.join()
        if self._connected:
            info = self.client.publish(availability_topic(self.config), OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(OFFLINE_ACK_TIMEOUT_S)
            except RuntimeError:
                log.warning("MQTT broker %s: could not publish 'offline' on shutdown", self.config.mqtt.address)
        self._connected = None  # a disconnect we asked for is not an outage to report
        self.client.disconnect()
        self.client.loop_stop()
        if self.outbox.depth:
            log.warning("outbox %s: %d message(s) not acknowledged; they go out on the next start",
                        self.outbox.path, self.outbox.depth)
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
        except Exception as exc:  # noqa: BLE001 - the thread's last stop: report it, never die silently
            self._fail(exc)

    def _send_until_closed(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._due or self._closing)
                if self._closing:
                    return
                self._due = False
            self._collect_acks()
            room = WINDOW - len(self._in_flight) if self._connected else 0
            batch = self.outbox.pending(room, after=self._handed) if room > 0 else []
            for message in batch:
                info = self.client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
                self._in_flight.append((info, message.id))
                self._handed = message.id
            if batch and len(batch) == room:
                self._poke()  # more may be waiting: come back once acks make room

    def _collect_acks(self) -> None:
        """Delete what the broker acknowledged (PUBACK/PUBCOMP); wake ``flush`` when something went.

        Every message handed over is in ``_in_flight`` before this runs (the same thread hands them over),
        so an acknowledged id matching none of them belongs to a message outside the outbox ("online")."""
        with self._wake:
            acked, self._acked = self._acked, set()
        waiting = []
        for info, message_id in self._in_flight:
            if info.mid in acked:
                self.outbox.ack(message_id)
            else:
                waiting.append((info, message_id))
        if len(waiting) != len(self._in_flight):
            self._in_flight = waiting
            with self._wake:
                self._wake.notify_all()

    def _fail(self, exc: Exception) -> None:
        """Publishing cannot go on (the outbox's disk is full or gone, from whichever thread found it): log
        it once and wake ``flush``; the daemon sees ``error``, stops and exits 1 so systemd restarts it, and
        the messages already stored wait for the next start."""
        if self.error is None:
            self.error = one_line(exc)
            log.error("MQTT publishing stopped: %s", self.error)
        with self._wake:
            self._wake.notify_all()

    def _announce(self) -> None:
        """Home Assistant discovery configs, retained, through the outbox like everything else."""
        for message in self._discovery:
            self._send(message.topic, message.payload, retain=message.retain)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_connected(False, f"refused the connection ({reason_code}); check edge.mqtt.username and "
                                       "the password")
            return
        if self._ever_connected:
            self.metrics.reconnects.inc()
        self._ever_connected = True
        self._set_connected(True, "connected")
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
        """Record the acknowledgement by message id. Not read from the ``MQTTMessageInfo``: paho calls this
        before it marks the info published, and ``is_published()`` raises for a message first handed over
        while the connection was dropping (paho kept it, re-sent it on reconnect, and the broker took it)."""
        with self._wake:
            self._acked.add(mid)
        self._poke()

    def _on_connect_fail(self, client, userdata) -> None:
        """paho calls this inside its ``except OSError``, so the reason (refused, a failed name lookup, a
        certificate that does not verify) is at hand and goes into the log line."""
        reason = sys.exc_info()[1]
        self._set_connected(False, f"unreachable ({one_line(reason)})" if reason else "unreachable")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected:
            self._set_connected(False, f"connection lost ({reason_code})")

    def _set_connected(self, connected: bool, why: str) -> None:
        """Log state changes only, so an hour-long outage is one line, not one per retry."""
        changed, self._connected = connected != self._connected, connected  # the sender reads it: set it first
        if changed:
            if connected:
                log.info("MQTT broker %s: %s", self.config.mqtt.address, why)
            else:
                log.warning("MQTT broker %s: %s; retrying with backoff up to %d s", self.config.mqtt.address, why, RECONNECT_MAX_S)
