"""The MQTT publisher's sender against a real mosquitto: the corners of a connection that comes and goes."""

import time

import paho.mqtt.client as mqtt

from edge.config import EdgeConfig
from edge.publisher import CONNECTED, MqttPublisher


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_message_handed_over_as_the_connection_drops_is_acknowledged_after_the_reconnect(tmp_path, broker):
    """paho closes its socket before it calls on_disconnect, so the sender can hand a message over to a
    connection that is already gone: paho keeps it, answers MQTT_ERR_NO_CONN, and re-sends it once connected
    again. The broker's acknowledgement of that re-sent message must empty the outbox, not stop publishing."""
    broker.stop()
    config = EdgeConfig(
        device="test-dev", mqtt={"host": broker.host, "port": broker.port}, outbox={"path": tmp_path / "outbox.db"}
    )
    publisher = MqttPublisher(config)
    publisher.start()
    try:
        assert eventually(lambda: publisher.failed_attempts > 0)  # the first connection attempt failed
        publisher.connection = CONNECTED  # the moment between the socket closing and on_disconnect
        publisher.event("cam", {"n": 1})
        assert eventually(lambda: len(publisher._in_flight) == 1)
        assert publisher._in_flight[0][0].rc == mqtt.MQTT_ERR_NO_CONN
        broker.start()
        assert publisher.flush(timeout=15), publisher.error
        assert publisher.error is None
    finally:
        publisher.close()
