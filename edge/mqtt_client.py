"""The paho-mqtt 2.x client as the publisher needs it: configured from ``edge.mqtt``, and honest about two
things paho keeps to itself.

* **Refusals.** Under MQTT 5 the broker answers each QoS 1 publish with a PUBACK reason code and each QoS 2
  publish with a PUBREC reason code (mosquitto: 0x87 Not authorized when its ACL denies the topic). paho
  passes PUBACK's code to ``on_publish`` but drops PUBREC's, and then completes the QoS 2 exchange as if all
  was well; ``Client`` records PUBREC's code so ``refusal(mid, code)`` can tell. Under MQTT 3.1.1 there is
  no reason code: a broker acknowledges a denied publish like any other, and no client can tell.
* **A dead network thread.** paho runs its loop in a thread that an unexpected exception ends silently (a
  value past an MQTT limit, a bug in a callback); ``on_thread_died`` is called with it instead, so the
  daemon fails rather than waiting forever for a broker it no longer talks to.

The private hooks (``_handle_pubrec``, ``_thread_main``, ``_in_packet``) are paho's since 1.x; paho is held
below 3 in pyproject.toml, and tests/edge_device/test_faults.py checks both against a real mosquitto.
"""

from __future__ import annotations

import os
import ssl
import struct
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from common.errors import UserError
from edge.config import MQTT_STRING_BYTES, EdgeConfig, MqttConfig
from edge.homeassistant import OFFLINE, availability_topic

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT: another client connected with this client id


class Client(mqtt.Client):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_thread_died: Callable[[BaseException], None] = lambda exc: None
        self._refused_at_pubrec: dict[int, ReasonCode] = {}  # mid -> the PUBREC's failure code
        self._refusals = threading.Lock()

    def refusal(self, mid: int, reason_code: ReasonCode) -> ReasonCode | None:
        """Why the broker refused message ``mid`` (from ``on_publish``'s code or its PUBREC's), or None."""
        with self._refusals:
            at_pubrec = self._refused_at_pubrec.pop(mid, None)
        if at_pubrec is not None:
            return at_pubrec
        return reason_code if reason_code.is_failure else None

    def _handle_pubrec(self):
        """PUBREC: message id (2 bytes), then under MQTT 5 a reason code when the packet is longer."""
        packet = self._in_packet["packet"]
        if self._protocol == mqtt.MQTTv5 and len(packet) > 2 and packet[2] >= 0x80:
            (mid,) = struct.unpack("!H", packet[:2])
            with self._refusals:
                self._refused_at_pubrec[mid] = ReasonCode(PacketTypes.PUBREC, identifier=packet[2])
        return super()._handle_pubrec()

    def _thread_main(self) -> None:
        try:
            super()._thread_main()
        except Exception as exc:  # noqa: BLE001 - the thread's last stop: hand it on, never die silently
            self.on_thread_died(exc)


def read_password(config: MqttConfig) -> str | None:
    """From ``password_file`` (first line) or the environment variable ``password_env``, never from the YAML;
    within MQTT's 65535 bytes, which would otherwise kill paho's thread at the first connect."""
    password = _password(config)
    if password is not None and len(password.encode("utf-8")) > MQTT_STRING_BYTES:
        source = config.password_file or f"edge.mqtt.password_env ({config.password_env})"
        raise UserError(f"{source}: the MQTT password is longer than MQTT's {MQTT_STRING_BYTES} bytes")
    return password


def _password(config: MqttConfig) -> str | None:
    if config.password_file is not None:
        try:
            return config.password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise UserError(f"{config.password_file}: cannot read the MQTT password ({exc})") from None
        except UnicodeDecodeError as exc:  # the message names the byte, never the password
            raise UserError(
                f"{config.password_file}: the MQTT password file is not UTF-8 text "
                f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
            ) from None
    if config.password_env is not None:
        if config.password_env not in os.environ:
            raise UserError(f"edge.mqtt.password_env: environment variable {config.password_env} is not set")
        return os.environ[config.password_env]
    return None


def client_id(config: EdgeConfig) -> str:
    return config.mqtt.client_id or f"emotion-edge-{config.device}"


def build_client(config: EdgeConfig) -> Client:
    """A configured, not yet connected client: protocol, credentials, TLS, last will, reconnect backoff."""
    settings = config.mqtt
    client = Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id(config), protocol=PROTOCOLS[settings.protocol]
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, read_password(settings))
    if settings.tls is not None:
        try:
            client.tls_set(
                ca_certs=_path(settings.tls.ca_file),
                certfile=_path(settings.tls.cert_file),
                keyfile=_path(settings.tls.key_file),
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (OSError, ssl.SSLError) as exc:
            raise UserError(f"edge.mqtt.tls: cannot load the certificates ({exc})") from None
        client.tls_insecure_set(settings.tls.insecure)
    client.will_set(availability_topic(config), OFFLINE, qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    return client


def retry_delay(failures: int) -> int:
    """Seconds paho waits after the ``failures``-th failed attempt in a row (its backoff doubles from
    ``RECONNECT_MIN_S`` up to ``RECONNECT_MAX_S``), so a log line can say when the next try comes."""
    return min(RECONNECT_MIN_S * 2 ** max(failures - 1, 0), RECONNECT_MAX_S)


def _path(value) -> str | None:
    return str(value) if value is not None else None
