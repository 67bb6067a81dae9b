"""TensorFlow for the trainer: its environment, set before the first import, and a first import that keeps
TensorFlow's start-up noise off a newcomer's terminal.

On a machine without a GPU, importing TensorFlow and looking for devices prints lines that look like failures
and are not: "All log messages before absl::InitializeLog() ...", "oneDNN custom operations are on", "Could not
find cuda drivers" and "failed call to cuInit". They come from C++ logging that runs before absl reads
``TF_CPP_MIN_LOG_LEVEL``, so no environment variable silences them. ``load_tensorflow`` therefore imports
TensorFlow and runs its device discovery with file descriptor 2 pointed at a temporary file, then puts stderr
back and replays every captured line except those known ones, so a real error (a broken install, a GPU whose
driver fails) still shows. The cuInit failure counts as noise only next to "Could not find cuda drivers":
there is no driver, so there is nothing CUDA could have done.

The TFLite converter does the same during ``trainer export``: its calibrator prints "fully_quantize: 0,
inference_type: 6, ..." from C++, and a Python warning that the uint8 input has no statistics (it has: the
quantization-aware model carries them). ``quiet_converter`` filters those the same way.

oneDNN stays on (``TF_ENABLE_ONEDNN_OPTS`` is left to the user): turning it off can change float results in
the last bits, and the shipped model must rebuild byte for byte from its run folder; only its notice goes.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Each applies only where the user has not set it: a variable set by hand is theirs.
ENVIRONMENT = {
    # tensorflow-model-optimization (quantization-aware training) supports Keras 2 only: tf-keras, selected
    # before TensorFlow is first imported.
    "TF_USE_LEGACY_KERAS": "1",
    # TensorFlow's own INFO and WARNING lines once its logging is up (the CPU features it was built without).
    "TF_CPP_MIN_LOG_LEVEL": "2",
}

NO_CUDA_DRIVER = re.compile(r"^I\d{4} .*\] Could not find cuda drivers on your machine, GPU will not be used\.$")
NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^I\d{4} .*\] oneDNN custom operations are on\. "),
    NO_CUDA_DRIVER,
)
CUINIT_FAILED = re.compile(r"^E\d{4} .*\] failed call to cuInit: ")
CONVERTER_NOISE = (re.compile(r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "),)
UNCALIBRATED_INPUT_WARNING = "Statistics for quantized inputs were expected, but not specified"


def set_environment() -> None:
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def kept_lines(captured: str, noise: tuple[re.Pattern, ...] = NOISE) -> list[str]:
    """The captured stderr lines worth showing: all but the known ``noise`` (by default the CPU-only start-up
    lines)."""
    lines = captured.splitlines()
    no_driver = any(NO_CUDA_DRIVER.match(line) for line in lines)
    return [
        line
        for line in lines
        if not (any(pattern.match(line) for pattern in noise) or (no_driver and CUINIT_FAILED.match(line)))
    ]


@contextmanager
def filtered_stderr(noise: tuple[re.Pattern, ...]) -> Iterator[None]:
    """Run the block with file descriptor 2 (C++ logging writes there, below Python) sent to a temporary
    file, then show every line of it that is not ``noise``, also when the block raised."""
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in kept_lines(captured.read().decode("utf-8", errors="replace"), noise):
                print(line, file=sys.stderr)


def load_tensorflow() -> None:
    """Import TensorFlow and find its devices with stderr captured, then show what was not noise. Once per
    process; a TensorFlow already imported (by a test, an experiment) has said its piece and is left alone."""
    if "tensorflow" in sys.modules:
        return
    set_environment()
    with filtered_stderr(NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices()


@contextmanager
def quiet_converter() -> Iterator[None]:
    """Around ``TFLiteConverter.convert``: its known chatter left out, anything else it prints shown."""
    with warnings.catch_warnings(), filtered_stderr(CONVERTER_NOISE):
        warnings.filterwarnings("ignore", message=UNCALIBRATED_INPUT_WARNING, category=UserWarning)
        yield
