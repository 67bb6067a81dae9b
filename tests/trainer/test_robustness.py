"""``trainer robustness``: the corrupted test set is the same bytes on every run, each corruption degrades a face
the way its name says, and the command scores the shipped int8 model end to end on a tiny synthetic dataset."""

import hashlib
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common.errors import UserError
from edge.classifier import read_preprocess
from tests.support import REPO, copy_shipped_model
from tests.synthetic import draw_face, make_dataset
from trainer.cli import main
from trainer.corruptions import BENCHMARK
from trainer.metrics import output_columns
from trainer.robustness import CLEAN, benchmark_conditions, corrupt

CONDITIONS = benchmark_conditions()
BY_KEY = {condition.key: condition for condition in CONDITIONS}


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(7)
    return [draw_face(label, 48, rng) for label in ("happy", "sad", "surprise", "neutral")]


def digest_of_benchmark(faces) -> str:
    """One hash over every face under every condition, faces taken in the given order."""
    digest = hashlib.sha256()
    for condition in CONDITIONS:
        for face in faces:
            digest.update(corrupt(face, condition).tobytes())
    return digest.hexdigest()


def test_the_benchmark_is_clean_plus_six_corruptions_at_three_severities():
    assert CONDITIONS[0] == CLEAN and len(CONDITIONS) == 19
    assert [c.key for c in CONDITIONS[1:4]] == ["blur-1", "blur-2", "blur-3"]
    assert {c.corruption for c in CONDITIONS[1:]} == {name for name, _, _ in BENCHMARK}


def test_corrupted_bytes_are_the_same_in_another_process_and_order(faces, tmp_path):
    """Noise is seeded by the face itself: a fresh interpreter (another hash seed) and the reverse order of
    faces give the same bytes, so the benchmark is one fixed test set."""
    np.save(tmp_path / "faces.npy", np.stack(faces))
    script = (
        "import numpy as np; from tests.trainer.test_robustness import digest_of_benchmark; "
        f"print(digest_of_benchmark(list(np.load({str(tmp_path / 'faces.npy')!r}))))"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == digest_of_benchmark(faces)
    noisy = [corrupt(face, BY_KEY["noise-2"]) for face in faces]
    assert all(
        np.array_equal(a, b) for a, b in zip(noisy, reversed([corrupt(f, BY_KEY["noise-2"]) for f in reversed(faces)]))
    )


def test_noise_differs_between_faces_and_between_severities(faces):
    flat = np.full((48, 48), 128, np.uint8)
    other_flat = np.full((48, 48), 129, np.uint8)
    residual = [corrupt(image, BY_KEY["noise-1"]).astype(int) - image for image in (flat, other_flat)]
    assert np.abs(residual[0]).mean() > 3 and not np.array_equal(residual[0], residual[1])
    assert not np.array_equal(corrupt(faces[0], BY_KEY["noise-1"]), corrupt(faces[0], BY_KEY["noise-2"]))


# What each corruption should move, as (degraded face, original face) -> number.
def sharpness(image: np.ndarray, original: np.ndarray) -> float:
    return float(cv2.Laplacian(image.astype(np.float64), cv2.CV_64F).var())


def contrast(image: np.ndarray, original: np.ndarray) -> float:
    return float(image.std())


def brightness(image: np.ndarray, original: np.ndarray) -> float:
    return float(image.mean())


def error(image: np.ndarray, original: np.ndarray) -> float:
    return float(np.mean((image.astype(float) - original) ** 2))


@pytest.mark.parametrize(
    "corruption, measure, direction",
    [
        ("blur", sharpness, "down"),
        ("downscale", sharpness, "down"),
        ("contrast", contrast, "down"),
        ("dark", brightness, "down"),
        ("noise", sharpness, "up"),
        ("jpeg", error, "up"),
    ],
)
def test_each_corruption_degrades_more_at_each_severity(faces, corruption, measure, direction):
    """clean, severity 1, 2, 3: the measure moves strictly the named way at every step, on every face."""
    for face in faces:
        values = [
            measure(corrupt(face, BY_KEY[key]), face)
            for key in ("clean", f"{corruption}-1", f"{corruption}-2", f"{corruption}-3")
        ]
        steps = np.diff(values)
        assert (steps < 0).all() if direction == "down" else (steps > 0).all(), (corruption, values)


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory):
    """The command on 3 faces per class with the shipped int8 model, and the same file under another name
    with its labels and preprocessing given on the command line (the --peer syntax) instead of read from its
    contract."""
    root = tmp_path_factory.mktemp("robustness")
    data = make_dataset(root / "data", per_class=3, splits=("test",))
    (root / "models").mkdir()
    model = copy_shipped_model(root / "models")
    shutil.copy(model, root / "models" / "renamed.tflite")
    out = root / "report"
    code = main(
        [
            "robustness",
            str(model),
            f"{root / 'models' / 'renamed.tflite'}:labels=happy,neutral,sad,surprise,preprocess={read_preprocess(model)}",
            "--data",
            str(data),
            "--out",
            str(out),
        ]
    )
    return code, out


def test_the_command_writes_table_json_and_png(benchmark_run):
    code, out = benchmark_run
    assert code == 0
    results = json.loads((out / "robustness.json").read_text())
    assert results["images"] == 12 and results["split"] == "test"
    assert list(results["models"]) == ["emotion_int8", "renamed"]
    assert [c["key"] for c in results["conditions"]] == [c.key for c in CONDITIONS]
    for model in results["models"].values():
        assert set(model["conditions"]) == set(BY_KEY)
        accuracies = [model["conditions"][c.key]["accuracy"] for c in CONDITIONS[1:]]
        assert model["summary"]["mean_corrupted"]["accuracy"] == pytest.approx(np.mean(accuracies))
        assert all(0 <= v["accuracy"] <= 1 and 0 <= v["macro_f1"] <= 1 for v in model["conditions"].values())
    first, second = results["models"].values()
    assert first["conditions"] == second["conditions"]  # the same file, read by its contract or by the spec
    table = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("|")]
    assert len(table) == 2 + 1 + 1 + 18 + 1  # header, rule, mean of 18, clean, the 18, mean / clean
    assert all(line.count("|") == 3 + 2 * 2 for line in table)
    assert table[2].startswith("| **mean of 18** |")
    image = cv2.imread(str(out / "robustness.png"))
    assert image is not None and image.shape[1] >= 800 and (out / "robustness.png").stat().st_size < 300_000


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("{tmp}/nope.tflite", "model {tmp}/nope.tflite: model file not found"),
        ("{model}:labels=angry,disgust,fear,calm", "no output for class happy, neutral, sad, surprise"),
        ("{model}:range=0-9", "range=0-9 (known: 0-255, 0-1, -1-1)"),
        ("{model}:preprocess=sharpen", "preprocess=sharpen (known: none, equalize_hist, clahe)"),
        ("{model}:size=64", "model {model}: size=64 but the model's input is 48x48x1"),
    ],
)
def test_bad_model_spec_is_one_line_naming_it(spec, expected, tmp_path, capsys):
    model = copy_shipped_model(tmp_path)
    data = make_dataset(tmp_path / "data", per_class=1, splits=("test",))
    values = {"tmp": tmp_path, "model": model}
    code = main(["robustness", spec.format(**values), "--data", str(data), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("trainer: error:") and expected.format(**values) in err[-1]
    assert "--peer" not in err[-1]


def test_a_models_outputs_are_put_in_the_datasets_class_order():
    """One rule (trainer.metrics.output_columns) for robustness, evaluate and experiments/preprocess_check.py."""
    classes = ["angry", "happy", "neutral", "sad"]
    assert output_columns(["Sad", "happy", "fear", "angry", "NEUTRAL"], classes, "m.tflite") == [3, 1, 4, 0]
    with pytest.raises(
        UserError, match=r"^m.tflite: no output for class neutral, sad \(its labels: angry, happy; cure\)$"
    ):
        output_columns(["angry", "happy"], classes, "m.tflite", "cure")
