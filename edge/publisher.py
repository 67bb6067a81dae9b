"""Where events and stats go: an MQTT broker (paho-mqtt 2.x), or stdout as JSON lines (``--stdout``).

Topics (``prefix`` = ``edge.mqtt.topic_prefix``)::

    {prefix}/{device}/availability     "online" / "offline", retained; "offline" is also the last will
    {prefix}/{device}/{camera}/event   one emotion event (see edge.events)
    {prefix}/{device}/{camera}/stats   periodic pipeline statistics

A broker that is down at start or goes away later is retried by paho's network thread with capped
exponential backoff (1 s to 30 s), logged once per state change. QoS 1/2 messages published meanwhile
wait in paho's memory queue and go out on reconnect; ``flush`` waits until the broker has acknowledged
every one of them. Everything goes through ``MqttPublisher._send``: that is where a persistent outbox
(a later issue) slots in, storing before sending and deleting on the broker's acknowledgement.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt

from edge.config import EdgeConfig, MqttConfig
from edge.errors import UserError
from edge.homeassistant import OFFLINE, ONLINE, availability_topic

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
OFFLINE_ACK_TIMEOUT_S = 0.5  # on shutdown, how long to wait for the broker to take "offline"


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

    def flush(self, timeout: float) -> bool:
        return True

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
    client.max_queued_messages_set(0)  # unbounded while offline; the outbox will bound it on disk
    return client


def _path(value) -> str | None:
    return str(value) if value is not None else None


class MqttPublisher:
    def __init__(self, config: EdgeConfig):
        self.config = config
        self.qos = config.mqtt.qos
        self.client = build_client(config)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._acks = threading.Condition()
        self._unacked: set[int] = set()
        self._acked_early: set[int] = set()  # acks that arrived before publish() returned their mid
        self._connected: bool | None = None
        self.lost = 0  # QoS 0 messages published while disconnected (paho drops those)

    @property
    def _where(self) -> str:
        return f"{self.config.mqtt.host}:{self.config.mqtt.port}"

    def start(self) -> None:
        """Connect in the background: a broker that is down does not block or kill the daemon."""
        try:
            self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive_s)
        except ValueError as exc:
            raise UserError(f"edge.mqtt.host: {exc}") from None
        self.client.loop_start()

    def event(self, camera: str, event: dict) -> None:
        self._send(self._camera_topic(camera, "event"), json.dumps(event))

    def stats(self, camera: str, stats: dict) -> None:
        self._send(self._camera_topic(camera, "stats"), json.dumps(stats))

    def flush(self, timeout: float) -> bool:
        """True once the broker has acknowledged every QoS 1/2 message sent so far; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._acks:
            while self._unacked:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acks.wait(left)
        return True

    @property
    def unacked(self) -> int:
        with self._acks:
            return len(self._unacked)

    def close(self) -> None:
        """Say "offline" (retained) while still connected, then disconnect; the will covers a crash."""
        if self._connected:
            info = self.client.publish(availability_topic(self.config), OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(OFFLINE_ACK_TIMEOUT_S)
            except RuntimeError:
                log.warning("MQTT broker %s: could not publish 'offline' on shutdown", self._where)
        self._connected = None  # a disconnect we asked for is not an outage to report
        self.client.disconnect()
        self.client.loop_stop()

    def _camera_topic(self, camera: str, kind: str) -> str:
        return f"{self.config.mqtt.topic_prefix}/{self.config.device}/{camera}/{kind}"

    def _send(self, topic: str, payload: str, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=self.qos, retain=retain)
        if self.qos == 0:
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                self.lost += 1
            return
        with self._acks:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._unacked.add(info.mid)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Called with paho's internal lock held: never publish from here, only record the ack.
        if self.qos == 0:
            return
        with self._acks:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._acked_early.add(mid)
            self._acks.notify_all()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_connected(False, f"refused the connection ({reason_code})")
            return
        self._set_connected(True, "connected")
        self._send(availability_topic(self.config), ONLINE, retain=True)

    def _on_connect_fail(self, client, userdata) -> None:
        self._set_connected(False, "unreachable")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected:
            self._set_connected(False, f"connection lost ({reason_code})")

    def _set_connected(self, connected: bool, why: str) -> None:
        """Log state changes only, so an hour-long outage is one line, not one per retry."""
        if connected != self._connected:
            if connected:
                log.info("MQTT broker %s: %s", self._where, why)
            else:
                log.warning("MQTT broker %s: %s; retrying with backoff up to %d s", self._where, why, RECONNECT_MAX_S)
        self._connected = connected
