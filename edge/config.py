"""Typed settings of the edge daemon: the ``edge:`` section of ``config.yaml``.

Defaults here are the measured, recommended ones, so an empty section runs the bundled sample.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from common.configfile import Strict, load_section, resolve_path
from edge.source_uri import resolved

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_MODEL = PACKAGE_DIR / "models" / "emotion_int8.tflite"
BUNDLED_SAMPLE = PACKAGE_DIR / "samples"
# The detector box grown by this fraction of its size on each side frames a face as FER2013's crops do, the
# framing the model learned (median of ferplus-4class/validation; experiments/framing_check.py).
CROP_MARGIN = 0.08

TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]


def index_as_text(value: object) -> object:
    """YAML reads ``source: 0`` as a number; a camera index is a source like any other, so it becomes "0"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


SourceUri = Annotated[str, BeforeValidator(index_as_text), Field(min_length=1)]


HOST_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def is_ip_address(text: str) -> bool:
    """IPv4 or IPv6 (a link-local IPv6 address may carry its ``%interface``)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def resolve_source(value: str | None, info: ValidationInfo) -> str | None:
    """A relative video file or folder is relative to the config file's folder; devices and URLs stay."""
    return None if value is None else resolved(value, lambda path: resolve_path(path, info))


class CameraConfig(Strict):
    """One input. ``source`` is a URI: a camera index (``0``), ``/dev/videoN`` (or ``/dev/v4l/by-id/...``),
    ``picamera2``, an ``rtsp://``/``http(s)://`` stream, a video file, or a folder of images. ``batch``
    (set by ``edge run --source`` for images) treats a folder or image as independent photos."""

    name: TopicName
    source: SourceUri
    batch: bool = False  # an image folder or file judged photo by photo into records (edge.batch), not as video

    _resolve = field_validator("source")(resolve_source)


class DetectorConfig(Strict):
    """Face detection (edge/detector.py; measured in docs/detector.md). ``multiscale`` finds faces from
    ~48 px (in 640x480) up to one filling the frame, whole-head or tightly framed: in a photo with every
    pass, in a stream by looking again around the faces of the last frames and searching one region of the
    frame per frame (edge/stream_plan.py); ``small_faces`` adds tiles for faces down to ~32 px (a photo:
    several times the cost; a stream: twelve more search steps); ``full`` / ``short`` run one BlazeFace
    model; ``skip`` takes the whole image as the face (a folder of face crops)."""

    model: Literal["multiscale", "full", "short", "skip"] = "multiscale"
    small_faces: bool = False
    score_threshold: float | None = Field(None, gt=0, lt=1)  # None: each pass's measured threshold
    nms_iou: float = Field(0.3, gt=0, lt=1)
    min_face_px: int = Field(20, ge=1)


class TrackingConfig(Strict):
    """Face identity across frames (IoU matching) and temporal smoothing of the emotion scores."""

    iou_threshold: float = Field(0.3, gt=0, lt=1)
    max_missed_frames: int = Field(5, ge=0)
    ema_alpha: float = Field(0.5, gt=0, le=1)
    hysteresis: float = Field(0.1, ge=0, lt=1)


class TlsConfig(Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False

    _resolve = field_validator("ca_file", "cert_file", "key_file")(resolve_path)


MQTT_STRING_BYTES = 65535  # an MQTT string is a 16-bit length and UTF-8 bytes; paho's thread dies on a longer one


def mqtt_string(value: str | None) -> str | None:
    """Within MQTT's string limit, and not empty (an empty client id or username means something else)."""
    if value is not None and not 1 <= len(value.encode("utf-8")) <= MQTT_STRING_BYTES:
        raise ValueError(f"must be 1 to {MQTT_STRING_BYTES} bytes in UTF-8 (got {len(value.encode('utf-8'))})")
    return value


class MqttConfig(Strict):
    """The broker. ``protocol`` 5 (the default) makes the broker answer every publish with a reason code, so
    a message it refuses (an ACL) stays in the outbox and is reported; 3.1.1 is for brokers without MQTT 5,
    which acknowledge a refused publish as if they took it: refusals cannot be seen there."""

    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Annotated[Literal["5", "3.1.1"], BeforeValidator(index_as_text)] = "5"
    client_id: str | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    tls: TlsConfig | None = None
    topic_prefix: str = Field("emotion", pattern=r"^[A-Za-z0-9_/-]+$")
    qos: Literal[0, 1, 2] = 1
    keepalive_s: int = Field(
        30, ge=5, le=65535
    )  # a 16-bit field in CONNECT; also how long a silent broker takes to give up on

    _resolve = field_validator("password_file")(resolve_path)
    _mqtt_strings = field_validator("client_id", "username")(mqtt_string)

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_given_empty(cls, tls: object) -> object:
        """A bare ``tls:`` reads as null, which would mean no TLS at all and the password sent in clear."""
        if tls is None:
            raise ValueError(
                "empty: give its keys (ca_file: ...), or {} for TLS with the system's CAs; "
                "leave the key out for plain MQTT"
            )
        return tls

    @field_validator("host")
    @classmethod
    def _bare_host(cls, host: str) -> str:
        """paho takes a bare name or address; "mqtt://broker:1883" or "user@broker" would only fail later,
        at connect, as an endless retry."""
        if not (is_ip_address(host) or (len(host) <= 253 and HOST_NAME.match(host))):
            raise ValueError(f"{host!r} is not a host name or IP address (the port goes in edge.mqtt.port)")
        return host

    @property
    def address(self) -> str:
        """host:port for messages, an IPv6 address in brackets."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @model_validator(mode="after")
    def _password_needs_username(self) -> MqttConfig:
        """A password without a username would be silently dropped and the connection made anonymously."""
        if self.username is None and (self.password_file is not None or self.password_env is not None):
            raise ValueError("password_file / password_env need a username")
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("give the password once: password_file or password_env, not both")
        return self


class BatchConfig(Strict):
    """Photos judged one by one (``edge run --source PHOTOS``): one record per face per image, as JSON lines
    or CSV, to ``output`` (stdout when not given)."""

    format: Literal["jsonl", "csv"] = "jsonl"
    output: Path | None = None

    _resolve = field_validator("output")(resolve_path)


class EventsConfig(Strict):
    """When to publish: on appearance and on a change of the smoothed emotion, plus an optional heartbeat."""

    heartbeat_s: float | None = Field(None, gt=0)
    snapshots: bool = False
    stats_interval_s: float = Field(10.0, gt=0)


def default_state_dir() -> Path:
    """Where the service keeps its state: systemd's ``StateDirectory=`` (``$STATE_DIRECTORY``) when run as
    the unit, else the user's XDG state folder, so a development run never needs /var/lib."""
    systemd_dirs = os.environ.get("STATE_DIRECTORY")
    if systemd_dirs:
        return Path(systemd_dirs.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(xdg) / "emotion-edge"


def file_name_part(text: str) -> str:
    """A host name or address as part of a file name (an IPv6 address's colons and ``%`` go)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class OutboxConfig(Strict):
    """Outgoing messages wait on disk until the broker acknowledges them, so a broker outage or a daemon
    restart loses no event; past ``max_messages`` the oldest are dropped (and counted). A finite run whose
    broker is down at the end waits for it until SIGTERM, or at most ``drain_timeout_s`` seconds. The
    default file is one per device and broker (``outbox-<device>-<host>-<port>.db`` in the state folder),
    so one run's leftovers never go to another run's broker."""

    path: Path | None = None  # None: the default file for this device and broker (EdgeConfig fills it in)
    max_messages: int = Field(10_000, ge=1)
    drain_timeout_s: float | None = Field(None, gt=0)

    _resolve = field_validator("path")(resolve_path)


class HomeAssistantConfig(Strict):
    """Home Assistant MQTT discovery: retained config messages that make each camera appear as sensors."""

    discovery: bool = False
    discovery_prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_/-]+$")


class MetricsConfig(Strict):
    """Prometheus ``/metrics`` endpoint; off unless a port is given."""

    port: int | None = Field(None, ge=1, le=65535)
    address: str = (
        "127.0.0.1"  # this device only, like every listener; 0.0.0.0 (or the LAN address) for a scraper elsewhere
    )


class PreviewConfig(Strict):
    """The live view (``edge run --preview``): a page with each camera's annotated stream, last events and
    stats, for setting a camera up. Off by default, and on loopback by default because it shows faces; any
    other address must be set here and is logged as a warning. Frames are JPEG-encoded only while a browser
    is watching, at ``fps`` at most, and never written to disk."""

    enabled: bool = False
    address: str = "127.0.0.1"
    port: int = Field(8090, ge=0, le=65535)  # 0: any free port (tests)
    fps: float = Field(5.0, gt=0, le=30)

    @field_validator("address")
    @classmethod
    def _bare_address(cls, address: str) -> str:
        if not (is_ip_address(address) or (len(address) <= 253 and HOST_NAME.match(address))):
            raise ValueError(f"{address!r} is not a host name or IP address (the port goes in edge.preview.port)")
        return address


class AnnotateConfig(Strict):
    """``edge annotate``: a recording (video file or image folder) in, an annotated video, a per-face CSV, a
    timeline and a summary out. Each key is also the flag of the same name; ``--min-face-px`` sets
    ``edge.min_readable_px``, which the daemon follows too."""

    out_dir: Path = Path("annotated")
    codec: str = Field("mp4v", pattern=r"^[A-Za-z0-9 ]{4}$")  # a FourCC OpenCV can write here: mp4v, avc1 (H.264)
    fps: float = Field(30.0, gt=0, le=1000)  # frame rate of an image folder's video (a video file keeps its own)

    _resolve = field_validator("out_dir")(resolve_path)


def resolve_peer(text: str, resolve: Callable[[Path], Path | None]) -> str:
    """``PATH[:key=value,...]`` with its PATH passed through ``resolve``; the options stay as written."""
    path, colon, options = text.partition(":")
    return f"{resolve(Path(path))}{colon}{options}"


class BenchConfig(Strict):
    """``edge bench``: what it times and compares. Each key is also the flag of the same name, and a flag
    given on the command line wins; files, folders and whether the source ends are checked when the bench
    starts (edge.bench.run), not here, so a bench setting can never stop ``edge run``."""

    source: SourceUri | None = None  # None: generated clips of the sample face
    frames: int = Field(300, ge=1)
    faces: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [1, 4], min_length=1)
    threads: list[Annotated[int, Field(ge=1, le=64)]] = Field(default_factory=lambda: [1, 2], min_length=1)
    repeats: int = Field(300, ge=1)
    peers: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)  # PATH[:key=value,...]
    data: Path | None = None
    split: str | None = Field(None, min_length=1)
    json_file: Path | None = Field(None, alias="json")  # "json" itself would shadow BaseModel.json
    mqtt: bool = False
    event_every_frame: bool = False

    _resolve = field_validator("data", "json_file")(resolve_path)
    _resolve_source = field_validator("source")(resolve_source)

    @field_validator("peers")
    @classmethod
    def _peer_paths(cls, peers: list[str], info: ValidationInfo) -> list[str]:
        """A peer's model file, like every path in the file, is relative to the config file's folder."""
        return [resolve_peer(text, lambda path: resolve_path(path, info)) for text in peers]

    @field_validator("split")
    @classmethod
    def _split_needs_data(cls, split: str | None, info: ValidationInfo) -> str | None:
        if split is not None and info.data.get("data") is None:
            raise ValueError("needs data, the dataset folder it is in (--data)")
        return split


class EdgeConfig(Strict):
    device: TopicName = Field(default_factory=lambda: socket.gethostname().split(".")[0] or "edge")
    accelerator: Literal["cpu", "edgetpu"] = "cpu"
    output: Literal["mqtt", "stdout"] = Field(
        "mqtt", description="where events go; stdout prints JSON lines (--stdout)"
    )
    edgetpu_fallback_to_cpu: bool = False
    model: Path = BUNDLED_MODEL
    crop_margin: float = Field(CROP_MARGIN, ge=0, le=1)  # the face box grows by this fraction of its size per side
    # A face box under this height is never classified: no events (edge run), drawn and recorded as "too small"
    # (edge annotate). Its crop (box plus crop_margin) reaches the 48 px model upscaled from about 32 px, and the
    # model reads blur instead of expression (experiments/min_face_check.py measures the accuracy per height).
    min_readable_px: int = Field(28, ge=1)
    threads: int = Field(1, ge=1, le=64)
    cameras: list[CameraConfig] = Field(
        default_factory=lambda: [CameraConfig(name="sample", source=str(BUNDLED_SAMPLE))]
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)

    @model_validator(mode="before")
    @classmethod
    def _moved_min_face_px(cls, data: object) -> object:
        """``edge.annotate.min_face_px`` became ``edge.min_readable_px`` when the daemon began to follow it too. A
        device's config.yaml is kept across installs (deploy/install.sh), so the old key is taken, with a
        warning, rather than stopping the daemon at its next start; the new key, when given, wins."""
        annotate = data.get("annotate") if isinstance(data, dict) else None
        if not isinstance(annotate, dict) or "min_face_px" not in annotate:
            return data
        log.warning("edge.annotate.min_face_px is now edge.min_readable_px (edge run follows it too): move it there")
        rest = {key: value for key, value in annotate.items() if key != "min_face_px"}
        return {"min_readable_px": annotate["min_face_px"], **data, "annotate": rest}

    @field_validator("model")
    @classmethod
    def _model_path(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)

    @property
    def outbox_owner(self) -> str:
        """Whose messages an outbox file holds: they go to this device's session on this broker, no other."""
        return f"device {self.device} at broker {self.mqtt.address}"

    @model_validator(mode="after")
    def _outbox_per_device_and_broker(self) -> EdgeConfig:
        if self.outbox.path is None:
            name = f"outbox-{self.device}-{file_name_part(self.mqtt.host)}-{self.mqtt.port}.db"
            self.outbox.path = default_state_dir() / name
        return self

    @model_validator(mode="after")
    def _unique_camera_names(self) -> EdgeConfig:
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"camera name {duplicates[0]!r} is used twice")
        return self


def load(path: Path | None, overrides: dict | None = None) -> EdgeConfig:
    return load_section(path, "edge", EdgeConfig, overrides)
