"""The one place that loads a TFLite model: LiteRT (``ai-edge-litert``), or ``tflite_runtime`` where that is
what the board has installed, with the Coral Edge TPU delegate when ``accelerator: edgetpu``.

Nothing here (or anywhere under ``edge/``) imports TensorFlow: a Raspberry Pi install is LiteRT alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge.errors import UserError

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


def _edgetpu_delegates(module, fallback_to_cpu: bool) -> list:
    """The Edge TPU delegate, or none (CPU) when the library or device is missing and fallback is allowed."""
    try:
        return [module.load_delegate(EDGETPU_LIBRARY)]
    except (ValueError, OSError) as exc:
        if not fallback_to_cpu:
            raise UserError(f"accelerator edgetpu: cannot load {EDGETPU_LIBRARY} ({exc}); "
                            "install libedgetpu1-std or set edge.edgetpu_fallback_to_cpu: true") from None
        log.warning("Edge TPU unavailable (%s); running on the CPU", exc)
        return []


def load_interpreter(model: Path, threads: int = 1, accelerator: str = "cpu", fallback_to_cpu: bool = False):
    """An allocated interpreter for ``model``; a missing or invalid file is a one-line UserError."""
    if not Path(model).is_file():
        raise UserError(f"{model}: model file not found")
    module = _interpreter_module()
    delegates = _edgetpu_delegates(module, fallback_to_cpu) if accelerator == "edgetpu" else []
    try:
        interpreter = module.Interpreter(
            model_path=str(model), num_threads=threads, experimental_delegates=delegates or None
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{model}: not a usable TFLite model ({exc})") from None
    return interpreter
