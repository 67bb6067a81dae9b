"""Train a tiny MobileNetV2 on synthetic faces, export it to int8, and check the model contract.

One run (module-scoped) feeds every test here: training even a tiny model costs tens of seconds.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import make_dataset  # noqa: E402
from trainer.cli import main  # noqa: E402

pytestmark = pytest.mark.slow

TINY = """
trainer:
  data_dir: {data}
  model: {{input_size: 48, alpha: 0.35, stem_stride: 1, last_channels: 64, dropout: 0.0}}
  train: {{out_dir: {run}, epochs: 8, batch_size: 16, learning_rate: 0.01, label_smoothing: 0.0, augment: 0.0, patience: 8,
          average_last: 3}}
  qat: {{epochs: 1, learning_rate: 0.0005}}
  export: {{out: {out}, calibration_samples: 32, max_int8_drop: 0.05}}
"""


def write_config(root: Path, out: str = "model/emotion_int8.tflite") -> Path:
    path = root / f"config_{Path(out).parent.name}.yaml"
    path.write_text(TINY.format(data=root / "data", run=root / "run", out=root / out))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    make_dataset(root / "data", per_class=60)
    config = write_config(root)
    assert main(["--config", str(config), "train"]) == 0
    assert main(["--config", str(config), "export", "--int8"]) == 0
    return root


def test_training_learns_and_selects_on_validation(exported):
    record = json.loads((exported / "run/float/selected.json").read_text())
    assert record["val_accuracy"] > 0.7, record  # chance is 0.25
    for artefact in ("config.json", "float/history.csv", "qat/best.weights.h5", "curves.png"):
        assert (exported / "run" / artefact).exists(), artefact
    with np.load(exported / "run/float/average.npz") as average:
        assert list(average["epochs"]) == [5, 6, 7]  # the last 3 of 8 epochs, a selection candidate


def test_int8_file_contract(exported):
    from ai_edge_litert.interpreter import Interpreter

    from trainer.export import EDGETPU_OPS
    from trainer.tflite import edgetpu_shape_problems, tflite_ops, tflite_tensor_dtypes

    model = exported / "model/emotion_int8.tflite"
    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8
    assert list(inp["shape_signature"]) == [1, 48, 48, 1] and list(out["shape_signature"]) == [1, 4]
    assert inp["quantization"] == (1.0, 0), "raw pixels 0..255 go in unchanged"
    assert set(tflite_ops(model)) <= EDGETPU_OPS
    delegated = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
    assert len(delegated) == 1, "the whole int8 graph is one XNNPACK partition (flip averaging before the softmax)"
    assert np.float32 not in set(tflite_tensor_dtypes(model))
    assert edgetpu_shape_problems(model) == []

    contract = json.loads(model.with_suffix(".json").read_text())
    assert contract["labels"] == ["happy", "neutral", "sad", "surprise"]
    assert contract["input"]["height"] == 48 and contract["input"]["dtype"] == "uint8"
    assert set(contract["metrics"]["test"]) == {"int8", "float"} and contract["distilled_from"] == []
    assert contract["data"]["counts"]["train"]["happy"] == 60
    assert (exported / "model" / contract["float_twin"]).exists()
    card = (exported / "model/MODEL_CARD.md").read_text()
    assert f"{contract['metrics']['test']['int8']['accuracy']:.4f}" in card and "Known limits" in card
    assert contract["run"] == "run" and "export --int8 --run\ncheckpoints/run`" in card


def test_int8_agrees_with_float_on_raw_pixels(exported):
    import cv2

    from trainer.tflite import predict_tflite

    files = sorted((exported / "data/test").glob("*/*.jpg"))
    gray = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])
    labels = ["happy", "neutral", "sad", "surprise"]
    int8 = predict_tflite(exported / "model/emotion_int8.tflite", gray, labels)
    flt = predict_tflite(exported / "model/emotion_float.tflite", gray, labels)
    assert np.allclose(int8.sum(1), 1, atol=0.05)
    assert (int8.argmax(1) == flt.argmax(1)).mean() > 0.85


def test_export_gate_refuses_an_int8_model_that_trails_float(exported, capsys, monkeypatch):
    """Make the int8 candidate score 10 points under its float twin: export must fail and ship nothing."""
    import trainer.export as export

    real = export.evaluate_file

    def degraded(path, split, settings):
        metrics = real(path, split, settings)
        return {**metrics, "accuracy": metrics["accuracy"] - 0.10} if "_int8" in path.name else metrics

    monkeypatch.setattr(export, "evaluate_file", degraded)
    config = write_config(exported, out="strict/emotion_int8.tflite")
    assert main(["--config", str(config), "export", "--int8"]) == 3
    assert "trails the float model" in capsys.readouterr().err
    assert list((exported / "strict").iterdir()) == [], "a failed export writes nothing, not even the float twin"


def test_resume_refuses_to_overwrite_and_continues(exported, capsys):
    config = write_config(exported)
    assert main(["--config", str(config), "train"]) == 2
    assert "--resume" in capsys.readouterr().err
    finished = {
        path: (path.read_bytes(), path.stat().st_mtime_ns) for path in (exported / "run").glob("*/*") if path.is_file()
    }
    assert main(["--config", str(config), "train", "--resume"]) == 0  # both phases done: nothing to redo
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in finished} == finished
    assert main(["--config", str(config), "train", "--resume", "--epochs", "9"]) == 2  # another schedule
    err = capsys.readouterr().err
    assert "train.epochs: 8 -> 9" in err and "config.json" in err


def test_a_run_killed_mid_training_resumes_where_it_stopped(exported, capfd):
    """SIGKILL (a session's end, a power cut) once two epochs are logged (the first, at least, backed up);
    ``--resume`` must go on from the backup, not from epoch 1, and leave one history row per epoch and a
    finished run."""
    from trainer.figures import read_history

    config, run = write_config(exported), exported / "interrupted"
    train = ["--config", str(config), "train", "--out", str(run), "--epochs", "6"]
    trainer = subprocess.Popen(
        [sys.executable, "-m", "trainer.cli", *train],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while len(read_history(run / "float/history.csv").get("epoch", [])) < 2 or not (run / "float/backup").is_dir():
        assert trainer.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.1)
    os.killpg(trainer.pid, signal.SIGKILL)
    trainer.wait()
    assert not (run / "float/done").exists()
    capfd.readouterr()

    assert main([*train, "--resume"]) == 0
    resumed = [line for line in capfd.readouterr().out.splitlines() if line.startswith("Epoch ")]
    assert resumed[0] != "Epoch 1/6" and resumed[0].endswith("/6"), resumed
    assert read_history(run / "float/history.csv")["epoch"] == [0, 1, 2, 3, 4, 5]
    assert (run / "qat/done").exists() and (run / "curves.png").exists()
    assert list((run / "float/backup").iterdir()) == [], "a finished phase keeps no backup"


def test_evaluate_reads_a_tflite_file_in_its_own_label_order(exported, capsys):
    """The contract's labels, not the config's order, say what each output is; two files of one name both
    get a row; a run folder trained on other classes (or in another order) is refused."""
    shipped = exported / "model/emotion_int8.tflite"
    twin = exported / "beside/emotion_int8.tflite"
    twin.parent.mkdir()
    for source in (shipped, shipped.with_suffix(".json")):
        shutil.copy(source, twin.parent / source.name)
    plain = write_config(exported)
    assert (
        main(
            [
                "--config",
                str(plain),
                "evaluate",
                str(shipped),
                str(twin),
                "--split",
                "test",
                "--out",
                str(exported / "eval_plain"),
            ]
        )
        == 0
    )
    results = json.loads((exported / "eval_plain/metrics.json").read_text())["results"]
    assert set(results) == {"model/emotion_int8.tflite (TFLite)", "beside/emotion_int8.tflite (TFLite)"}

    # Probabilities, not scores: int8 outputs can tie, and argmax breaks a tie by column order.
    from trainer.evaluate import tflite_candidate
    from trainer.pipeline import Split

    faces = Split(np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1), dtype=np.uint8), np.zeros(16, int))
    as_trained = tflite_candidate(shipped, "m", faces, ["happy", "neutral", "sad", "surprise"]).probs
    reordered_probs = tflite_candidate(shipped, "m", faces, ["sad", "happy", "neutral", "surprise"]).probs
    assert np.array_equal(reordered_probs, as_trained[:, [2, 0, 1, 3]])

    reordered = write_config(exported, out="reordered_eval/emotion_int8.tflite")
    reordered.write_text(reordered.read_text() + "  classes: [sad, happy, neutral, surprise]\n")
    assert (
        main(
            [
                "--config",
                str(reordered),
                "evaluate",
                str(exported / "run"),
                "--split",
                "test",
                "--out",
                str(exported / "eval_run"),
            ]
        )
        == 2
    )
    assert "trained on classes" in capsys.readouterr().err


def test_evaluate_writes_report_with_figures(exported):
    out = exported / "eval"
    config = write_config(exported)
    assert (
        main(
            [
                "--config",
                str(config),
                "evaluate",
                str(exported / "model/emotion_int8.tflite"),
                str(exported / "run"),
                "--split",
                "test",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["results"]) == 3
    assert metrics["manifest"] is None and "every file)" in (out / "report.md").read_text().splitlines()[0]
    for figure in ("confusion_1.png", "reliability.png", "gradcam_2.png", "mistakes_1.png"):
        assert (out / figure).stat().st_size > 1000


def test_contract_describes_the_exported_run_not_the_current_config(exported, capsys):
    """A config that differs from the run's (as the default config.yaml would) must not leak into the contract."""
    config = write_config(exported, out="other/emotion_int8.tflite")
    config.write_text(config.read_text().replace("dropout: 0.0", "dropout: 0.5"))
    assert main(["--config", str(config), "export", "--int8"]) == 0
    contract = json.loads((exported / "other/emotion_int8.json").read_text())
    assert contract["architecture"]["dropout"] == 0.0 and contract["architecture"]["last_channels"] == 64

    reordered = write_config(exported, out="reordered/emotion_int8.tflite")
    reordered.write_text(reordered.read_text() + "  classes: [sad, happy, neutral, surprise]\n")
    assert main(["--config", str(reordered), "export", "--int8"]) == 2
    assert "trained on classes" in capsys.readouterr().err
    assert not (exported / "reordered").exists() or not any((exported / "reordered").iterdir())


def test_export_never_replaces_the_shipped_model_with_a_worse_one(exported, capsys):
    """A one-step run (near chance) exported over a good model is refused in one line with exit 3 and the
    shipped files left byte for byte; ``--force`` replaces them."""
    shipped = exported / "guarded/emotion_int8.tflite"
    shipped.parent.mkdir()
    for name in ("emotion_int8.tflite", "emotion_int8.json", "emotion_float.tflite"):
        shutil.copy(exported / "model" / name, shipped.parent / name)
    config = write_config(exported, out="guarded/emotion_int8.tflite")
    weak = exported / "config_weak.yaml"
    weak.write_text(
        config.read_text()
        .replace("epochs: 8", "epochs: 1, max_steps_per_epoch: 1")
        .replace("average_last: 3", "average_last: 0")
        .replace("qat: {epochs: 1", "qat: {epochs: 0")
    )
    assert main(["--config", str(weak), "train", "--out", str(exported / "weak")]) == 0
    before = {path.name: path.read_bytes() for path in shipped.parent.iterdir()}
    capsys.readouterr()

    assert main(["--config", str(weak), "export", "--int8", "--run", str(exported / "weak")]) == 3
    err = capsys.readouterr().err.strip()
    assert "is below the shipped model's" in err and "--force" in err and len(err.splitlines()) == 1
    assert {path.name: path.read_bytes() for path in shipped.parent.iterdir()} == before

    assert main(["--config", str(weak), "export", "--int8", "--run", str(exported / "weak"), "--force"]) == 0
    assert shipped.read_bytes() != before["emotion_int8.tflite"]
    assert json.loads(shipped.with_suffix(".json").read_text())["run"] == "weak"
