"""Which LiteRT interpreter configuration runs the emotion models fastest: op resolver x threads.

``AUTO`` (the default) applies the XNNPACK delegate; ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` runs LiteRT's own
optimised kernels alone (``BUILTIN_REF``, the reference kernels, is only for debugging and far slower). The
table shows each combination's invoke latency and how many XNNPACK partitions the graph became (an op
XNNPACK cannot take splits the graph and costs a hand-over), so the shipped classifier's choice
(``edge.runtime.load_interpreter``: AUTO, ``edge.threads`` = 1) is a measured one, not a guess.

    python -m edge.tools.interpreter_options [MODEL ...] [--threads 1,2] [--repeats 500]

Default models: the shipped int8 model and its float twin. Invoke only (no crop or resize), random input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert import interpreter as litert

from common.errors import UserError, exit_on_user_error
from edge.bench.run import positive_ints
from edge.bench.speed import percentiles_ms
from edge.config import BUNDLED_MODEL

RESOLVERS = (litert.OpResolverType.AUTO, litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def time_invoke(model: Path, resolver, threads: int, repeats: int) -> tuple[dict, int]:
    """Invoke latency percentiles and the number of delegate partitions for one configuration."""
    try:
        interpreter = litert.Interpreter(
            model_path=str(model), num_threads=threads, experimental_op_resolver_type=resolver
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{model}: not a usable TFLite model ({exc})") from None
    tensor = interpreter.get_input_details()[0]
    pixels = np.random.default_rng(0).integers(0, 256, tensor["shape"]).astype(tensor["dtype"])
    timings = []
    for _index in range(repeats + 20):  # the first 20 warm caches and are not counted
        started = time.perf_counter()
        interpreter.set_tensor(tensor["index"], pixels)
        interpreter.invoke()
        timings.append(time.perf_counter() - started)
    partitions = sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
    return percentiles_ms(timings[20:]), partitions


def table(models: list[Path], threads: list[int], repeats: int) -> str:
    lines = [
        "| model | op resolver | threads | XNNPACK partitions | invoke ms p50 / p95 / p99 |",
        "|---|---|---|---|---|",
    ]
    for model in models:
        for resolver in RESOLVERS:
            for count in threads:
                latency, partitions = time_invoke(model, resolver, count, repeats)
                lines.append(
                    f"| {model.name} | {resolver.name} | {count} | {partitions} | "
                    f"{latency['p50']:.3f} / {latency['p95']:.3f} / {latency['p99']:.3f} |"
                )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    models = args.models or [BUNDLED_MODEL, BUNDLED_MODEL.with_name("emotion_float.tflite")]
    for model in models:
        if not model.is_file():
            raise UserError(f"{model}: model file not found")
    print(table(models, positive_ints("--threads", args.threads), args.repeats))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interpreter_options", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="TFLite models (default: shipped int8 and float twin)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=500)
    return exit_on_user_error("interpreter_options", run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
