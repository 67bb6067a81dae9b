"""``edge run`` against the deploy example's broker: TLS with the test CA, a password file, the ACL.

Also what never leaves the device by default: no secret in any topic or payload, no face image.
"""

import signal

import pytest

from tests.support import SAMPLES, edge_config

DEVICE_USER = "emotion-edge"


@pytest.fixture
def secure(broker_factory):
    return broker_factory(secure=True)


def secure_config(tmp_path, model, broker, password: str):
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    tls = (
        f"    username: {DEVICE_USER}\n    password_file: {password_file}\n    tls:\n      ca_file: {broker.ca_file}\n"
    )
    path = edge_config(tmp_path, model, SAMPLES, broker)
    path.write_text(path.read_text().replace(f"    port: {broker.port}\n", f"    port: {broker.port}\n{tls}"))
    return path


def test_events_arrive_over_tls_with_a_password_and_carry_no_secret_or_image(
    tmp_path, shipped_model, secure, listeners, daemons
):
    home_assistant = listeners(secure, username="homeassistant")
    password = secure.users[DEVICE_USER]
    daemon = daemons(secure_config(tmp_path, shipped_model, secure, password))
    assert daemon.wait(timeout=60) == 0, daemon.log
    assert home_assistant.wait_for(
        lambda: any(t.endswith("/availability") and p == b"offline" for t, p, _ in home_assistant.messages)
    )
    events = home_assistant.payloads("/cam/event")
    assert len(events) == 3 and [e["frame"] for e in events] == [0, 2, 3]
    for topic, payload, _ in home_assistant.messages:
        assert topic.startswith("emotion/test-dev/"), topic
        for secret in (password, "mqtt-password", str(tmp_path)):
            assert secret not in topic and secret.encode() not in payload
        assert b"snapshot" not in payload  # no face image leaves the device by default
    assert password not in daemon.log and "Traceback" not in daemon.log


def test_wrong_password_is_a_logged_refusal_per_attempt_without_traceback_or_the_password(
    tmp_path, shipped_model, secure, daemons
):
    daemon = daemons(secure_config(tmp_path, shipped_model, secure, "wrong-guess"))
    daemon.wait_for_log("refused the connection")
    daemon.wait_for_log("waiting for the MQTT broker")  # the run keeps its events for a fixed password
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    refusals = [line for line in daemon.log.splitlines() if "refused the connection" in line]
    assert refusals and all("edge.mqtt.username" in line and "next try in" in line for line in refusals), daemon.log
    assert [f"attempt {n} failed" in line for n, line in enumerate(refusals, 1)] == [True] * len(refusals)
    assert len(refusals) <= 4  # each attempt before the first connection, with backoff: 1, 2, 4 s...
    assert "wrong-guess" not in daemon.log and "Traceback" not in daemon.log
    assert "not acknowledged; they go out on the next start" in daemon.log
