"""Home Assistant discovery payloads carry what HA's MQTT sensor schema and its device registry require."""

import json
import re

import pytest

from edge import homeassistant as ha
from edge.config import CameraConfig, EdgeConfig

# HA's discovery topic pattern (homeassistant/components/mqtt/discovery.py)
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$"
)
TEMPLATE_FIELD = re.compile(r"^\{\{ value_json\.(\w+) \}\}$")


@pytest.fixture
def config():
    return EdgeConfig(
        device="edge-1",
        cameras=[CameraConfig(name="door", source="0"), CameraConfig(name="hall", source="1")],
        mqtt={"topic_prefix": "home/emotion"},
    )


def render(template: str, state: bytes) -> str:
    """What HA's ``{{ value_json.<field> }}`` yields for a state payload."""
    return str(json.loads(state)[TEMPLATE_FIELD.match(template).group(1)])


def test_two_retained_sensors_per_camera_with_valid_topics(config):
    messages = ha.discovery_messages(config)
    assert len(messages) == 4 and all(message.retain for message in messages)
    matches = [DISCOVERY_TOPIC.match(message.topic) for message in messages]
    assert all(match and match["component"] == "sensor" and match["node_id"] == "edge-1" for match in matches)
    assert [match["object_id"] for match in matches] == ["door_emotion", "door_faces", "hall_emotion", "hall_faces"]


def test_payloads_have_the_keys_home_assistant_needs(config):
    payloads = [json.loads(message.payload) for message in ha.discovery_messages(config)]
    for payload in payloads:
        assert {"name", "unique_id", "state_topic", "value_template", "availability_topic", "device"} <= set(payload)
        assert payload["availability_topic"] == "home/emotion/edge-1/availability"
        assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
        device = payload["device"]
        assert device["identifiers"] == ["emotion-edge_edge-1"]
        assert {"name", "model", "manufacturer", "sw_version"} <= set(device)
    assert len({payload["unique_id"] for payload in payloads}) == len(payloads)
    assert payloads[0]["state_topic"] == payloads[1]["state_topic"] == "home/emotion/edge-1/door/state"
    assert payloads[1]["state_class"] == "measurement"


def test_value_templates_read_the_state_payload(config):
    emotion, faces = (json.loads(message.payload) for message in ha.discovery_messages(config)[:2])
    state = ha.state_payload("happy", 2)
    assert (render(emotion["value_template"], state), render(faces["value_template"], state)) == ("happy", "2")
    assert json.loads(ha.state_payload(None, 0)) == {"emotion": "none", "faces": 0}


def test_known_emotions_make_an_enum_sensor_that_includes_none(config):
    emotion = json.loads(ha.discovery_messages(config, emotions=["happy", "sad"])[0].payload)
    assert emotion["device_class"] == "enum"
    assert emotion["options"] == ["happy", "sad", "none"]
    assert render(emotion["value_template"], ha.state_payload(None, 0)) in emotion["options"]


def test_discovery_prefix_is_configurable(config):
    config.homeassistant.discovery_prefix = "ha"
    assert all(message.topic.startswith("ha/sensor/edge-1/") for message in ha.discovery_messages(config))


def test_daemon_publishes_retained_discovery_and_state_and_reannounces_when_ha_comes_online(
    tmp_path, shipped_model, broker, listeners, daemons
):
    from tests.support import edge_config, face_video

    video = face_video(tmp_path / "face.avi", 120)
    config = edge_config(tmp_path, shipped_model, video, broker, extra="  homeassistant:\n    discovery: true\n")
    live = listeners(broker, "homeassistant/#")
    daemon = daemons(config)
    assert live.wait_for(lambda: len(live.messages) >= 2), daemon.log
    live.client.publish("homeassistant/status", b"online", qos=1)  # what HA sends when it (re)starts
    assert daemon.wait(timeout=60) == 0, daemon.log
    assert "Home Assistant is online" in daemon.log
    config_topics = [topic for topic, _, _ in live.messages if topic.endswith("/config")]
    assert config_topics.count("homeassistant/sensor/test-dev/cam_emotion/config") >= 2

    late = listeners(broker)  # joins after the daemon stopped: sees only what the broker retained
    assert late.wait_for(lambda: len(late.messages) >= 4, timeout=5)
    retained = {topic: payload for topic, payload, retain in late.messages if retain}
    emotion = json.loads(retained["homeassistant/sensor/test-dev/cam_emotion/config"])
    assert "homeassistant/sensor/test-dev/cam_faces/config" in retained
    labels = json.loads(shipped_model.with_suffix(".json").read_text())["labels"]
    assert emotion["options"] == [*labels, "none"]
    state = json.loads(retained[emotion["state_topic"]])
    assert state["faces"] == 1 and state["emotion"] in labels
    assert retained["emotion/test-dev/availability"] == b"offline"


def test_dominant_emotion_is_the_most_shown_then_the_most_confident():
    from types import SimpleNamespace

    from edge.pipeline import dominant_emotion

    labels = ["happy", "sad"]

    def face(label: int, confidence: float):
        scores = [0.0, 0.0]
        scores[label] = confidence
        return SimpleNamespace(label=label, scores=scores)

    assert dominant_emotion([], labels) is None
    assert dominant_emotion([face(0, 0.9), face(1, 0.6), face(1, 0.6)], labels) == "sad"
    assert dominant_emotion([face(0, 0.9), face(1, 0.6)], labels) == "happy"
