"""Home Assistant MQTT discovery: each camera shows up in HA as two sensors without any YAML on the HA side.

Per camera the device announces a *dominant emotion* sensor and a *face count* sensor, both reading one
retained JSON state message, and all of them go "unavailable" through one availability topic that the
daemon sets ``online`` on connect and ``offline`` as its MQTT last will (and on a clean stop).

Topics (``prefix`` = ``edge.mqtt.topic_prefix``, ``device`` = ``edge.device``)::

    <discovery_prefix>/sensor/<device>/<camera>_emotion/config   retained, built by discovery_messages()
    <discovery_prefix>/sensor/<device>/<camera>_faces/config
    <prefix>/<device>/availability                              "online" / "offline", retained
    <prefix>/<device>/<camera>/state                            {"emotion": "happy", "faces": 2}, retained

API::

    discovery_messages(config, emotions=None) -> [DiscoveryMessage(topic, payload: bytes, retain=True)]
    state_payload(emotion or None, faces) -> bytes;  state_topic(config, camera), availability_topic(config)

Passing the model's class names as ``emotions`` makes the emotion sensor an HA ``enum`` (offering them in
automations); without it the sensor is plain text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import metadata
from typing import NamedTuple

from edge.config import EdgeConfig

ONLINE = "online"
OFFLINE = "offline"
NO_FACE = "none"
PRODUCT = "emotion-edge"


class DiscoveryMessage(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = True


def availability_topic(config: EdgeConfig) -> str:
    return f"{config.mqtt.topic_prefix}/{config.device}/availability"


def state_topic(config: EdgeConfig, camera: str) -> str:
    return f"{config.mqtt.topic_prefix}/{config.device}/{camera}/state"


def state_payload(emotion: str | None, faces: int) -> bytes:
    """The per-camera state both sensors read; ``None`` (nobody in view) becomes ``"none"``."""
    return json.dumps({"emotion": emotion or NO_FACE, "faces": int(faces)}).encode()


def _version() -> str:
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "unknown"


def _device_block(config: EdgeConfig) -> dict:
    """Groups every sensor of this daemon under one HA device."""
    return {
        "identifiers": [f"{PRODUCT}_{config.device}"],
        "name": config.device,
        "model": f"{PRODUCT} ({config.accelerator})",
        "manufacturer": PRODUCT,
        "sw_version": _version(),
    }


def _sensor(config: EdgeConfig, camera: str, kind: str, fields: dict) -> DiscoveryMessage:
    object_id = f"{camera}_{kind}"
    payload = {
        "name": f"{camera} {kind}",
        "unique_id": f"{PRODUCT}_{config.device}_{object_id}",
        "state_topic": state_topic(config, camera),
        "availability_topic": availability_topic(config),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": _device_block(config),
        **fields,
    }
    topic = f"{config.homeassistant.discovery_prefix}/sensor/{config.device}/{object_id}/config"
    return DiscoveryMessage(topic, json.dumps(payload, sort_keys=True).encode())


def discovery_messages(config: EdgeConfig, emotions: Sequence[str] | None = None) -> list[DiscoveryMessage]:
    """Retained discovery configs: an emotion and a face-count sensor for every configured camera."""
    emotion_fields: dict = {"value_template": "{{ value_json.emotion }}", "icon": "mdi:emoticon-outline"}
    if emotions:
        emotion_fields.update(device_class="enum", options=[*emotions, NO_FACE])
    faces_fields = {
        "value_template": "{{ value_json.faces }}",
        "state_class": "measurement",
        "unit_of_measurement": "faces",
        "icon": "mdi:account-group",
    }
    messages = []
    for camera in config.cameras:
        messages.append(_sensor(config, camera.name, "emotion", emotion_fields))
        messages.append(_sensor(config, camera.name, "faces", faces_fields))
    return messages
