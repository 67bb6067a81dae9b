"""The deploy example broker (TLS, password file, ACL) accepts the device and refuses everything else."""

from __future__ import annotations

import queue
import threading

import paho.mqtt.client as mqtt
import pytest

from tests.support import Opened


class Client:
    """A paho-mqtt 2.x client that records its CONNACK and the messages it receives."""

    def __init__(self, broker, username=None, password=None, tls=True):
        self.connected = threading.Event()
        self.reason = None  # CONNACK reason code; stays None when the broker closed the connection first
        self.messages: queue.Queue = queue.Queue()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if username:
            self.paho.username_pw_set(username, password)
        if tls:
            self.paho.tls_set(ca_certs=str(broker.ca_file))
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = lambda *args: self.connected.set()
        self.paho.on_message = lambda client, userdata, message: self.messages.put((message.topic, message.payload))
        self.paho.connect(broker.host, broker.port, keepalive=10)
        self.paho.loop_start()
        self.connected.wait(5)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = reason_code
        self.connected.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        subscribed = threading.Event()
        self.paho.on_subscribe = lambda *args: subscribed.set()
        self.paho.subscribe(topic, qos=1)
        assert subscribed.wait(5)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def secure(broker_factory):
    return broker_factory(secure=True)


@pytest.fixture
def clients():
    with Opened(Client, Client.close) as opened:
        yield opened


def test_device_publishes_over_tls_and_home_assistant_receives(secure, clients):
    home_assistant = clients(secure, "homeassistant", secure.users["homeassistant"])
    device = clients(secure, "emotion-edge", secure.users["emotion-edge"])
    assert home_assistant.accepted and device.accepted
    home_assistant.subscribe("#")
    device.paho.publish("homeassistant/status", b"spoofed", qos=1)  # the ACL forbids this one
    device.paho.publish("emotion/edge-1/door/state", b'{"emotion": "happy", "faces": 1}', qos=1).wait_for_publish(5)
    assert home_assistant.messages.get(timeout=5) == ("emotion/edge-1/door/state", b'{"emotion": "happy", "faces": 1}')
    assert home_assistant.messages.empty()


def test_wrong_password_is_refused(secure, clients):
    intruder = clients(secure, "emotion-edge", "guess")
    assert intruder.reason is not None and intruder.reason.is_failure


def test_anonymous_is_refused(secure, clients):
    anonymous = clients(secure)
    assert not anonymous.accepted and anonymous.reason is not None and anonymous.reason.is_failure


def test_plain_mqtt_to_the_tls_port_fails(secure, clients):
    assert not clients(secure, "emotion-edge", secure.users["emotion-edge"], tls=False).accepted


def test_plain_broker_restarts_on_the_same_port(broker, clients):
    port = broker.port
    broker.restart()
    assert broker.port == port and clients(broker, tls=False).accepted
