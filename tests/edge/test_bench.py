"""``edge bench``: the speed tables and JSON, the side-by-side classifiers, accuracy mode, and its errors.

The shipped model and its float twin are the models compared; the float twin also stands in for a
``--peer`` with explicit preprocessing. Streams and datasets are a few frames / images, so this stays fast.
"""

import json
import re
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common.errors import UserError
from common.scores import classification_scores as scores
from edge.bench.accuracy import load_dataset_as
from edge.classifier import EmotionClassifier
from edge.cli import main
from edge.config import BUNDLED_MODEL
from tests.support import LABELS, REPO, run_edge
from tests.synthetic import make_dataset

FLOAT_TWIN = BUNDLED_MODEL.with_name("emotion_float.tflite")
QUICK = ["--frames", "6", "--repeats", "10"]
STAGES = {"decode", "detect", "classify", "track", "publish", "frame"}


def run_bench(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """The real command, from a folder without config.yaml (so: every default), JSON written beside."""
    out = tmp_path / "bench.json"
    result = run_edge("bench", *QUICK, "--json", str(out), *args, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text())


def test_default_run_prints_tables_and_writes_every_figure(tmp_path):
    result, report = run_bench(tmp_path)
    assert "| faces | threads | fps |" in result.stdout and "| model | threads | ms per face" in result.stdout
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    rows = {(round(row["faces_per_frame"]), row["threads"]): row for row in report["pipeline"]}
    assert set(rows) == {(1, 1), (1, 2), (4, 1), (4, 2)}  # --faces 1,4 x --threads 1,2 by default
    for row in rows.values():
        assert row["frames"] == 6 and row["fps"] > 0 and 0 < row["cpu_share"] and row["peak_rss_mb"] > 0
        assert set(row["latency_ms"]) == STAGES
        assert all(set(p) == {"p50", "p95", "p99"} for p in row["latency_ms"].values())
        assert row["latency_ms"]["frame"]["p50"] <= row["latency_ms"]["frame"]["p99"]
    models = {(row["model"], row["threads"]): row for row in report["classifiers"]}
    assert set(models) == {("int8", 1), ("float", 1), ("int8", 2), ("float", 2)}
    p50 = {key: row["ms_per_face"]["p50"] for key, row in models.items()}
    assert models["int8", 1]["p50_ratio_to_shipped"] == 1.0
    assert models["float", 1]["p50_ratio_to_shipped"] == pytest.approx(p50["float", 1] / p50["int8", 1], abs=0.01)
    assert "accuracy" not in report
    latency, speedup, fps = report["targets"]
    assert latency["measured"] == p50["int8", 1] and latency["met"] == (p50["int8", 1] <= 1.0)
    assert speedup["measured"] == pytest.approx(p50["float", 1] / p50["int8", 1], abs=0.01)
    assert speedup["met"] == (speedup["measured"] >= 1.5) and speedup["target"].startswith("int8 speed-up")
    assert fps["measured"] == rows[1, 1]["fps"] and fps["met"] == (rows[1, 1]["fps"] >= 100)
    assert "| target (one thread) |" in result.stdout


def test_peer_model_is_timed_beside_the_shipped_ones(tmp_path):
    peer = f"{FLOAT_TWIN}:range=0-255,labels={','.join(LABELS)},size=48,channels=1"
    result, report = run_bench(tmp_path, "--faces", "1", "--threads", "1", "--peer", peer)
    assert [row["model"] for row in report["classifiers"]] == ["int8", "float", "emotion_float"]
    assert report["classifiers"][2]["path"] == str(FLOAT_TWIN)
    assert "| emotion_float | 1 |" in result.stdout


def test_accuracy_mode_agrees_with_a_direct_computation(tmp_path):
    make_dataset(tmp_path / "data", per_class=4, splits=("test",))
    no_surprise = f"{FLOAT_TWIN}:labels=happy,neutral,sad,angry"  # the twin's 4th output renamed: a lacking peer
    _, report = run_bench(
        tmp_path,
        "--faces",
        "1",
        "--threads",
        "1",
        "--data",
        str(tmp_path / "data"),
        "--split",
        "test",
        "--peer",
        no_surprise,
    )
    results = report["accuracy"]
    assert set(results) == {"int8", "float", "emotion_float"}
    classifier = EmotionClassifier(BUNDLED_MODEL)
    truth, predicted = [], []
    for index, name in enumerate(sorted(LABELS)):
        for path in sorted((tmp_path / "data" / "test" / name).glob("*.jpg")):
            probabilities = classifier.classify([cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)])[0]
            truth.append(index)
            predicted.append(sorted(LABELS).index(classifier.labels[int(np.argmax(probabilities))]))
    assert 0 <= results["int8"]["accuracy"] <= 1
    assert results["int8"]["accuracy"] == pytest.approx(np.mean(np.array(truth) == np.array(predicted)), abs=1e-4)
    assert results["int8"]["n"] == 16 and results["int8"]["missing_classes"] == []
    assert results["emotion_float"]["missing_classes"] == ["surprise"]
    assert results["emotion_float"]["per_class"]["surprise"]["recall"] == 0.0


def test_scores_by_hand():
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, -1])  # -1: a label the data does not have
    result = scores(truth, predicted, ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(3 / 5, abs=1e-4)
    assert result["per_class"]["a"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3, abs=1e-4),
        "support": 2,
    }
    assert result["per_class"]["b"]["f1"] == pytest.approx(0.8, abs=1e-4)
    assert result["per_class"]["c"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 3, abs=1e-4)


@pytest.mark.parametrize(
    "args, named",
    [
        (["--threads", "0"], "--threads 0"),
        (["--faces", "one"], "--faces one"),
        (["--faces", "9"], "--faces 9"),
        (["--model", "missing.tflite"], "missing.tflite: model file not found"),
        (["--peer", "missing.tflite"], "--peer /.*/missing.tflite: model file not found"),
        (["--peer", f"{FLOAT_TWIN}:range=5-6,labels=a,b,c,d"], "range=5-6"),
        (["--peer", f"{FLOAT_TWIN}:colour=rgb"], "unknown option 'colour'"),
        (["--peer", f"{FLOAT_TWIN}:labels=a,b,c,d,size=64"], "size=64 but the model's input is 48x48x1"),
        (["--peer", f"{FLOAT_TWIN}:labels=a,b,c,d", "--peer", f"{FLOAT_TWIN}:labels=a,b,c,d"], "a second model named"),
        (["--data", "no/such/folder"], "--data /.*/no/such/folder: not a folder"),
        (["--split", "test"], r"edge.bench.split: Value error, needs data.*\(--data\)"),
        (["--json", "no/such/folder/out.json"], "--json /.*/no/such/folder/out.json: folder"),
        (["--frames", "0"], "edge.bench.frames: Input should be greater than or equal to 1"),
        (["--threads", "100"], "command line: edge.bench.threads.0: Input should be less than or equal to 64"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, named):
    """Paths on the command line are made absolute (relative to here), so the errors show them so."""
    monkeypatch.chdir(tmp_path)
    assert main(["bench", *args]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("edge: error: ") and re.search(named, error)


def test_bench_keys_in_the_config_file_and_flags_over_them(tmp_path):
    """``edge.bench`` drives the run, its paths relative to the file; a flag given wins over its key,
    ``--peer`` replacing the whole list (the file's peer does not exist, so using it would fail)."""
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text(
        "edge:\n  bench:\n    frames: 4\n    faces: [1]\n    threads: [2]\n    repeats: 5\n"
        "    peers: [no-such-peer.tflite]\n    json: out.json\n    event_every_frame: true\n"
    )
    peer = f"{FLOAT_TWIN}:labels={','.join(LABELS)}"
    result = run_edge("bench", "--config", str(config), "--threads", "1", "--peer", peer, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads((folder / "out.json").read_text())
    (row,) = report["pipeline"]
    assert (round(row["faces_per_frame"]), row["threads"], row["frames"]) == (1, 1, 4)
    assert row["events"] >= 4  # a heartbeat on every frame, not only the face's appearance
    assert [(r["model"], r["threads"]) for r in report["classifiers"]] == [
        ("int8", 1),
        ("float", 1),
        ("emotion_float", 1),
    ]


@pytest.mark.parametrize(
    "bench, named",
    [
        ("faces: [0]", "edge.bench.faces.0: Input should be greater than or equal to 1"),
        ("threads: 2", "edge.bench.threads: Input should be a valid list"),
        ("frame: 10", "edge.bench.frame: unknown key"),
        ("split: test", "edge.bench.split: Value error, needs data"),
    ],
)
def test_bad_bench_key_is_one_line_naming_it(tmp_path, capsys, bench, named):
    config = tmp_path / "config.yaml"
    config.write_text(f"edge:\n  bench:\n    {bench}\n")
    assert main(["bench", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith(f"edge: error: {config}: {named}")


def test_dataset_root_without_split_says_so(tmp_path, capsys):
    make_dataset(tmp_path / "data", per_class=1, splits=("test",))
    assert main(["bench", "--data", str(tmp_path / "data")]) == 2
    assert "pass --split test" in capsys.readouterr().err
    assert main(["bench", "--data", str(tmp_path / "data"), "--split", "train"]) == 2
    assert "no split folder 'train'" in capsys.readouterr().err


def test_unknown_flag_exits_2_without_traceback():
    result = run_edge("bench", "--no-such-flag", cwd=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--no-such-flag" in result.stderr.strip().splitlines()[-1]


def test_bench_never_imports_tensorflow():
    code = (
        "import sys, edge.bench.run, edge.tools.measure_detector, edge.tools.interpreter_options; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_interpreter_options_table(capsys):
    from edge.tools.interpreter_options import main as options_main

    assert options_main(["--threads", "1", "--repeats", "5"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| emotion_")]
    assert len(rows) == 4  # int8 and float x AUTO and BUILTIN_WITHOUT_DEFAULT_DELEGATES
    assert "| emotion_int8.tflite | AUTO | 1 |" in rows[0]


def test_mqtt_bench_without_a_broker_fails_instead_of_timing_the_wait(tmp_path, monkeypatch, capsys):
    """The figures would time a wait for the broker, not the pipeline: exit 69 (unavailable), one line."""
    from edge.bench import speed

    monkeypatch.setattr(speed, "FLUSH_TIMEOUT_S", 1)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(
        f"edge:\n  mqtt: {{host: 127.0.0.1, port: {port}}}\n"
        "  bench: {frames: 3, faces: [1], threads: [1], repeats: 5}\n"
    )
    assert main(["bench", "--config", str(config), "--mqtt"]) == 69
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"edge: error: --mqtt: the broker at 127.0.0.1:{port} did not acknowledge")


def test_a_source_without_one_readable_frame_is_one_line_not_a_table_of_zeros(tmp_path, capsys):
    (tmp_path / "faces").mkdir()
    (tmp_path / "faces" / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert main(["bench", "--source", str(tmp_path / "faces"), "--repeats", "10"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"edge: error: {tmp_path / 'faces'}: no frame could be read (1 unreadable)"


def test_a_dataset_loads_with_its_classes_in_a_models_label_order(tmp_path):
    """The experiments' loader: each true class is an index into the model's labels, whatever the folder
    order; a class folder the model cannot name is a one-line error."""
    make_dataset(tmp_path / "data", per_class=2, classes=("surprise", "happy"), splits=("validation",))
    images, truth = load_dataset_as(tmp_path / "data" / "validation", LABELS)
    assert len(images) == 4 and sorted(truth.tolist()) == [0, 0, 3, 3]
    with pytest.raises(UserError, match="surprise are not among the model's labels"):
        load_dataset_as(tmp_path / "data" / "validation", ["happy", "sad"])
