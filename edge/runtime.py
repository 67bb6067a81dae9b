"""The one place that loads a TFLite model: LiteRT (``ai-edge-litert``), or ``tflite_runtime`` where that is
what the board has installed, with the Coral Edge TPU delegate when ``accelerator: edgetpu``.

Nothing here (or anywhere under ``edge/``) imports TensorFlow: a Raspberry Pi install is LiteRT alone.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

from common.errors import Unavailable, UserError

log = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"


def _interpreter_module():
    """LiteRT first; the older ``tflite_runtime`` wheel has the same Interpreter API."""
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter
        except ImportError:
            raise UserError("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime)") from None
    return interpreter


def edgetpu_model(model: Path) -> Path:
    """The Edge TPU runs only models compiled for it: ``edgetpu_compiler`` writes ``<stem>_edgetpu.tflite``
    beside its input, and that is where it is looked for."""
    return model.with_name(f"{model.stem}_edgetpu.tflite")


def _edgetpu_delegate(module, compiled: Path, model: Path):
    """libedgetpu's delegate for ``compiled``. A missing compiled file is a ``UserError`` (a fix to make); a
    missing library or device is ``Unavailable``: maybe only not yet, since a USB Coral enumerates late at boot,
    so that one is worth a restart."""
    if not compiled.is_file():
        raise UserError(f"{compiled} not found (compile {model.name} with edgetpu_compiler, see deploy/README.md)")
    try:
        ctypes.CDLL(EDGETPU_LIBRARY)  # first: LiteRT's load_delegate leaves a stray traceback when it is missing
        return module.load_delegate(EDGETPU_LIBRARY)
    except (ValueError, OSError) as exc:
        raise Unavailable(
            f"cannot load {EDGETPU_LIBRARY} ({exc}; install libedgetpu1-std and plug in the Coral)"
        ) from None


def _edgetpu(module, model: Path, fallback_to_cpu: bool) -> tuple[Path, list]:
    """The compiled model and the Edge TPU delegate, or the CPU model and no delegate when the compiled
    file, the library or the device is missing and fallback is allowed."""
    compiled = edgetpu_model(model)
    try:
        return compiled, [_edgetpu_delegate(module, compiled, model)]
    except UserError as exc:
        if not fallback_to_cpu:
            raise type(exc)(f"accelerator edgetpu: {exc}; or set edge.edgetpu_fallback_to_cpu: true") from None
        log.warning("Edge TPU unavailable: %s; running %s on the CPU", exc, model.name)
        return model, []


def load_interpreter(model: Path, threads: int = 1, accelerator: str = "cpu", fallback_to_cpu: bool = False):
    """An allocated interpreter for ``model`` (its ``_edgetpu`` twin with ``accelerator="edgetpu"``); a missing
    or invalid file is a one-line UserError."""
    model = Path(model)
    if not model.is_file():
        raise UserError(f"{model}: model file not found")
    module = _interpreter_module()
    if accelerator == "edgetpu":
        model, delegates = _edgetpu(module, model, fallback_to_cpu)
    else:
        delegates = []
    try:
        interpreter = module.Interpreter(
            model_path=str(model), num_threads=threads, experimental_delegates=delegates or None
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{model}: not a usable TFLite model ({exc})") from None
    return interpreter
