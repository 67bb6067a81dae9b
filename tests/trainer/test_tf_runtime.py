"""TensorFlow's start-up noise stays off a CPU-only machine's terminal; anything else it prints still shows."""

import os
import subprocess
import sys
import warnings

from trainer.tf_runtime import kept_lines, quiet_converter

PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = (
    "I0000 00:00:1796623166.543679   16253 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. To turn "
    "them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`."
)
NO_DRIVER = (
    "I0000 00:00:1796623166.544746   16253 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used."
)
CUINIT = (
    "E0000 00:00:1796623175.344814   16253 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
    "call to cuInit: UNKNOWN ERROR (303)"
)
NOISE_MARKS = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit")


def test_only_the_known_cpu_only_lines_are_left_out():
    other = "E0000 00:00:1.0   1 some_op.cc:9] a real error"
    assert kept_lines("\n".join([PRE_INIT, ONEDNN, NO_DRIVER, CUINIT, other, PRE_INIT, NO_DRIVER])) == [other]
    assert kept_lines(CUINIT) == [CUINIT]  # a driver is there and CUDA still fails: that is worth seeing


def test_the_converters_chatter_is_left_out_and_anything_else_it_prints_shows(capfd):
    chatter = b"fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, output_inference_type: UINT8\n"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with quiet_converter():  # what TFLiteConverter.convert prints during an int8 export, from C++ and Python
            os.write(2, chatter)
            warnings.warn("Statistics for quantized inputs were expected, but not specified; continuing.", stacklevel=1)
            os.write(2, b"E0000 00:00:1.0   1 quantize.cc:9] a real error\n")
            warnings.warn("a real warning", stacklevel=1)
    assert capfd.readouterr().err.splitlines() == ["E0000 00:00:1.0   1 quantize.cc:9] a real error"]
    assert [str(warning.message) for warning in shown] == ["a real warning"]


def test_a_trainer_command_running_tensorflow_prints_only_its_own_line(tmp_path):
    """``trainer export`` imports TensorFlow before it finds the run folder missing: stderr is that one line."""
    result = subprocess.run(
        [sys.executable, "-m", "trainer.cli", "export", "--run", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert not [line for line in result.stderr.splitlines() if any(mark in line for mark in NOISE_MARKS)]
    assert result.stderr.splitlines() == [
        f"trainer: error: {tmp_path / 'nope'}: not a run folder of 'trainer train' (no config.json)"
    ]
