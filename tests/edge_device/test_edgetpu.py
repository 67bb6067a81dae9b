"""``accelerator: edgetpu``: the compiled ``<stem>_edgetpu.tflite`` through libedgetpu's delegate, or a clear
one-line error, or (``edgetpu_fallback_to_cpu``) a warned CPU run. This machine has no Coral and no
libedgetpu, which is exactly the missing-library path; the loading path is checked with a stand-in delegate."""

import ctypes.util
import json
import shutil
import subprocess
import sys

import pytest

from edge import runtime
from tests.support import REPO, SAMPLES


@pytest.fixture
def model(tmp_path, shipped_model):
    for source in (shipped_model, shipped_model.with_suffix(".json")):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path / shipped_model.name


def run_edge(model, *extra_yaml: str) -> subprocess.CompletedProcess:
    config = model.parent / "config.yaml"
    config.write_text(
        "edge:\n  accelerator: edgetpu\n"
        f"  model: {model}\n"
        f"  cameras:\n    - name: cam\n      source: {SAMPLES}\n" + "".join(extra_yaml)
    )
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--stdout"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def one_error_line(result: subprocess.CompletedProcess, exit_code: int = 2) -> str:
    assert result.returncode == exit_code and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("edge: error:")]
    return line


def test_missing_compiled_model_is_one_line_naming_it(model):
    line = one_error_line(run_edge(model))
    assert "emotion_int8_edgetpu.tflite not found" in line and "edgetpu_compiler" in line
    assert "edge.edgetpu_fallback_to_cpu" in line


def test_missing_library_is_one_line_naming_it_and_exit_69(model):
    """Exit 69 (EX_UNAVAILABLE), not 2: a USB Coral can enumerate after the service starts, so systemd
    restarts this one, while a missing compiled file (a configuration error, exit 2) stays failed."""
    if ctypes.util.find_library("edgetpu"):
        pytest.skip("libedgetpu is installed here")
    shutil.copy(model, runtime.edgetpu_model(model))  # "compiled": the library check comes next
    line = one_error_line(run_edge(model), exit_code=69)
    assert "cannot load libedgetpu.so.1" in line and "libedgetpu1-std" in line


def test_fallback_to_cpu_warns_and_runs(model):
    result = run_edge(model, "  edgetpu_fallback_to_cpu: true\n")
    assert result.returncode == 0, result.stderr
    assert "Edge TPU unavailable" in result.stderr and "running emotion_int8.tflite on the CPU" in result.stderr
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 3


def test_edgetpu_loads_the_compiled_twin_through_the_delegate(model, monkeypatch):
    """With the library present, the interpreter gets the ``_edgetpu`` file and libedgetpu's delegate."""
    from ai_edge_litert import interpreter as litert

    loaded = {}

    class FakeModule:
        @staticmethod
        def load_delegate(library):
            loaded["library"] = library
            return "edgetpu-delegate"

        @staticmethod
        def Interpreter(model_path, num_threads, experimental_delegates):
            loaded.update(model=model_path, delegates=experimental_delegates)
            return litert.Interpreter(model_path=model_path, num_threads=num_threads)

    shutil.copy(model, runtime.edgetpu_model(model))
    monkeypatch.setattr(runtime, "_interpreter_module", lambda: FakeModule)
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda library: loaded.setdefault("checked", library))
    runtime.load_interpreter(model, accelerator="edgetpu")
    assert loaded == {
        "checked": "libedgetpu.so.1",
        "library": "libedgetpu.so.1",
        "model": str(model.parent / "emotion_int8_edgetpu.tflite"),
        "delegates": ["edgetpu-delegate"],
    }
