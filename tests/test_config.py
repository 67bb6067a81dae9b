"""The shared config file: typed, validated, one-line errors, command line over file."""

from pathlib import Path

import pytest

from common.configfile import ConfigError
from edge import config as edge_config
from trainer import config as trainer_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_repository_config_is_valid():
    assert edge_config.load(REPO / "config.yaml").cameras
    settings = trainer_config.load(REPO / "config.yaml")
    assert settings.classes == ["happy", "neutral", "sad", "surprise"]
    assert settings.data_dir.name == "ferplus-4class" and settings.manifest is None
    assert settings.model.preprocess == "equalize_hist" and settings.train.targets == "votes"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("edge:\n  mqtt:\n    port: abc\n", "edge.mqtt.port: Input should be a valid integer"),
        ("edge:\n  mqtt:\n    prot: 1883\n", "edge.mqtt.prot: unknown key"),
        ("edge:\n  mqtt:\n    host: ''\n", "edge.mqtt.host: Value error, '' is not a host name or IP address"),
        ("edge:\n  mqtt:\n    host: mqtt://broker:1883\n", "(the port goes in edge.mqtt.port)"),
        ("edge:\n  mqtt:\n    host: broker:1883\n", "edge.mqtt.host: Value error, 'broker:1883' is not"),
        ("edge:\n  mqtt:\n    host: user@broker\n", "edge.mqtt.host: Value error, 'user@broker' is not"),
        (
            "edge:\n  mqtt:\n    tls:\n",
            "edge.mqtt.tls: Value error, empty: give its keys (ca_file: ...), or {} for TLS",
        ),
        ("edge:\n  accelerator: tpu\n", "edge.accelerator: Input should be 'cpu' or 'edgetpu'"),
        ("edge:\n  bench:\n    faces: [1, 0]\n", "edge.bench.faces.1: Input should be greater than or equal to 1"),
        ("edge:\n  bench:\n    repeat: 5\n", "edge.bench.repeat: unknown key"),
        ("trainer:\n  model:\n    alpha: -1\n", "trainer.model.alpha: Input should be greater than 0"),
        ("trainer:\n  train: {epochs: 5, average_last: 6}\n", "trainer.train: Value error, average_last 6 is more"),
        ("trainer:\n  classes: [a, a]\n", "trainer: Value error, classes must be distinct"),
        ("edgee:\n  threads: 2\n", "edgee: unknown section"),
        ("edge: [1, 2\n", "invalid YAML"),
        ("edge:\n  mqtt:\n    host: a\n    port: 1\n    host: b\n", "line 5 invalid YAML (key 'host' appears twice"),
        ("edge:\n  threads: 2\nedge:\n  threads: 1\n", "line 3 invalid YAML (key 'edge' appears twice"),
        ("edge:\n  threads: true\n", "edge.threads: Value error, true/false is not a value for this key"),
        ("edge:\n  mqtt: {qos: true}\n", "edge.mqtt.qos: Value error, true/false is not a value for this key"),
        ("edge:\n  bench: {threads: [1, false]}\n", "edge.bench.threads: Value error, true/false is not a value"),
        ("trainer:\n  train: {epochs: true}\n", "trainer.train.epochs: Value error, true/false is not a value"),
        ("edge:\n  mqtt: {keepalive_s: 70000}\n", "edge.mqtt.keepalive_s: Input should be less than or equal to 65535"),
        (
            "edge:\n  mqtt: {client_id: ''}\n",
            "edge.mqtt.client_id: Value error, must be 1 to 65535 bytes in UTF-8 (got 0)",
        ),
        (
            f"edge:\n  mqtt: {{client_id: {'é' * 40000}}}\n",
            "edge.mqtt.client_id: Value error, must be 1 to 65535 bytes in UTF-8 (got 80000)",
        ),
        ("edge:\n  mqtt: {username: ''}\n", "edge.mqtt.username: Value error, must be 1 to 65535 bytes"),
        ("edge:\n  mqtt: {protocol: 4}\n", "edge.mqtt.protocol: Input should be '5' or '3.1.1'"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        (edge_config if "trainer" not in text else trainer_config).load(path)
    message = str(caught.value)
    assert expected in message and "\n" not in message and str(path) in message


@pytest.mark.parametrize(
    "host, address",
    [
        ("broker.local", "broker.local:1883"),
        ("192.168.1.20", "192.168.1.20:1883"),
        ("::1", "[::1]:1883"),
        ("fe80::1%eth0", "[fe80::1%eth0]:1883"),
        ("mosquitto_1", "mosquitto_1:1883"),
    ],
)
def test_a_host_name_or_ip_address_is_a_broker_host(tmp_path, host, address):
    assert edge_config.load(write(tmp_path, f"edge:\n  mqtt:\n    host: '{host}'\n")).mqtt.address == address


def test_mqtt_5_by_default_3_1_1_on_request_and_metrics_on_loopback(tmp_path):
    assert edge_config.load(write(tmp_path, "edge: {}\n")).mqtt.protocol == "5"
    assert edge_config.load(write(tmp_path, "edge:\n  mqtt: {protocol: 5}\n")).mqtt.protocol == "5"  # a YAML number
    assert edge_config.load(write(tmp_path, "edge:\n  mqtt: {protocol: 3.1.1}\n")).mqtt.protocol == "3.1.1"
    settings = edge_config.load(write(tmp_path, "edge:\n  metrics: {port: 9108}\n  events: {snapshots: false}\n"))
    assert settings.metrics.address == "127.0.0.1" and settings.events.snapshots is False  # a bool key takes a bool


def test_command_line_overrides_file_and_is_validated(tmp_path):
    path = write(tmp_path, "edge:\n  mqtt:\n    host: broker\n    port: 1884\n")
    settings = edge_config.load(path, {"mqtt.port": 1999, "mqtt.host": None})
    assert (settings.mqtt.host, settings.mqtt.port) == ("broker", 1999)
    assert edge_config.load(write(tmp_path, "edge:\n  mqtt:\n    tls: {}\n")).mqtt.tls.ca_file is None  # system CAs
    with pytest.raises(ConfigError, match="edge.mqtt.port"):
        edge_config.load(path, {"mqtt.port": 70000})


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = write(tmp_path, "trainer:\n  data_dir: data\n  train:\n    out_dir: runs/x\n  evaluate:\n    out_dir: ev\n")
    settings = trainer_config.load(path)
    assert settings.data_dir == tmp_path / "data" and settings.train.out_dir == tmp_path / "runs/x"
    assert settings.evaluate.out_dir == tmp_path / "ev"


def test_bench_paths_resolve_against_the_config_folder(tmp_path):
    path = write(
        tmp_path,
        "edge:\n  bench:\n    source: clip.mp4\n    data: data\n    split: test\n"
        "    json: out/b.json\n    peers: ['m.tflite:range=0-1', /abs/p.tflite]\n",
    )
    bench = edge_config.load(path).bench
    assert (bench.source, bench.data, bench.json_file) == (
        str(tmp_path / "clip.mp4"),
        tmp_path / "data",
        tmp_path / "out/b.json",
    )
    assert bench.peers == [f"{tmp_path / 'm.tflite'}:range=0-1", "/abs/p.tflite"]


def test_a_bench_setting_never_stops_run_and_bench_refuses_a_live_source_itself(tmp_path, capsys):
    """``edge.bench.source: rtsp://...`` used to fail validation, so ``edge run`` exited 2 over a key it never
    reads; now the config loads and ``edge bench`` (which times one pass, so needs a source that ends)
    refuses it in one line, without the camera's password."""
    from edge.cli import main

    path = write(tmp_path, "edge:\n  bench:\n    source: rtsp://admin:secret@cam/1\n")
    assert edge_config.load(path).bench.source == "rtsp://admin:secret@cam/1"
    assert main(["bench", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "edge: error: edge.bench.source rtsp://admin:***@cam/1: a live camera or stream never ends; give a "
        "video file or an image folder (or leave it out for generated clips)"
    )


def test_a_camera_index_may_be_a_yaml_number(tmp_path):
    path = write(tmp_path, "edge:\n  cameras:\n    - {name: desk, source: 0}\n")
    assert edge_config.load(path).cameras[0].source == "0"
    by_id = "/dev/v4l/by-id/usb-cam-video-index0"  # a device: kept as it is, not resolved as a file
    path = write(tmp_path, f"edge:\n  cameras:\n    - {{name: desk, source: {by_id}}}\n")
    assert edge_config.load(path).cameras[0].source == by_id
    path = write(tmp_path, "edge:\n  cameras:\n    - {name: desk, source: /dev/shm/clip.mp4}\n")
    assert edge_config.load(path).cameras[0].source == "/dev/shm/clip.mp4"  # a file under /dev is a file
    with pytest.raises(ConfigError, match="edge.cameras.0.source: Value error, true/false is not a value for this key"):
        edge_config.load(write(tmp_path, "edge:\n  cameras:\n    - {name: desk, source: true}\n"))


def test_the_old_annotate_min_face_px_is_taken_with_a_warning(tmp_path, caplog):
    """A device keeps its config.yaml across installs: the key edge run now follows too (edge.min_readable_px)
    is read from its old place (edge.annotate.min_face_px) rather than stopping the daemon; the new key wins."""
    old = write(tmp_path, "edge:\n  annotate:\n    min_face_px: 40\n    fps: 25\n")
    settings = edge_config.load(old)
    assert (settings.min_readable_px, settings.annotate.fps) == (40, 25)
    assert "edge.annotate.min_face_px is now edge.min_readable_px" in caplog.text
    assert edge_config.load(old, {"min_readable_px": 60}).min_readable_px == 60  # edge annotate --min-face-px
    assert edge_config.load(None).min_readable_px == 28
    with pytest.raises(ConfigError, match=r"edge.min_readable_px: Input should be greater than or equal to 1"):
        edge_config.load(write(tmp_path, "edge:\n  min_readable_px: 0\n"))


@pytest.mark.parametrize("program", ["trainer", "edge"])
def test_config_flag_before_or_after_the_verb(tmp_path, capsys, program):
    """``trainer --config F train`` and ``trainer train --config F`` alike (and so for ``edge``): either way
    the file is read, and its bad key is one line."""
    from edge.cli import main as edge_main
    from trainer.cli import main as trainer_main

    main, verb, key = {
        "trainer": (trainer_main, "train", "trainer.train.epochs"),
        "edge": (edge_main, "run", "edge.threads"),
    }[program]
    path = write(tmp_path, "trainer:\n  train:\n    epochs: zero\nedge:\n  threads: many\n")
    for args in (["--config", str(path), verb], [verb, "--config", str(path)]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and key in err and str(path) in err
