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

oneDNN stays on (``TF_ENABLE_ONEDNN_OPTS`` is left to the user): turning it off can change float results in
the last bits, and the shipped model must rebuild byte for byte from its run folder; only its notice goes.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

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


def set_environment() -> None:
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def kept_lines(captured: str) -> list[str]:
    """The captured stderr lines worth showing: all but the known CPU-only start-up noise."""
    lines = captured.splitlines()
    no_driver = any(NO_CUDA_DRIVER.match(line) for line in lines)
    return [
        line
        for line in lines
        if not (any(pattern.match(line) for pattern in NOISE) or (no_driver and CUINIT_FAILED.match(line)))
    ]


def load_tensorflow() -> None:
    """Import TensorFlow and find its devices with stderr captured, then show what was not noise. Once per
    process; a TensorFlow already imported (by a test, an experiment) has said its piece and is left alone."""
    if "tensorflow" in sys.modules:
        return
    set_environment()
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in kept_lines(captured.read().decode("utf-8", errors="replace")):
                print(line, file=sys.stderr)
