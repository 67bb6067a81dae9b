"""The ``edge bench`` command: parse its lists, run every measurement, print the tables, write the JSON."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edge.bench import accuracy, report, stream
from edge.bench.models import ModelSpec, compare_speed, parse_peer, shipped_specs
from edge.bench.speed import measure_pipeline
from edge.config import EdgeConfig
from edge.errors import UserError


def positive_ints(flag: str, text: str) -> list[int]:
    """``"1,2"`` -> [1, 2]; anything else is a one-line error naming the flag."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise UserError(f"{flag} {text}: expected positive integers separated by commas, e.g. 1,2")
    return values


def check_flags(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """Every flag checked before the first measurement: a mistake costs a second, not a wasted run."""
    threads = positive_ints("--threads", args.threads)
    faces = positive_ints("--faces", args.faces)
    if args.frames < 1 or args.repeats < 1:
        raise UserError("--frames and --repeats must be at least 1")
    if args.split and not args.data:
        raise UserError(f"--split {args.split}: needs --data")
    if args.json and not args.json.parent.is_dir():
        raise UserError(f"--json {args.json}: folder {args.json.parent} does not exist")
    return threads, faces


def model_specs(config: EdgeConfig, peers: list[str]) -> list[ModelSpec]:
    """The shipped model, its float twin and the peers, each loaded once to fail early, names unique."""
    specs = shipped_specs(config) + [parse_peer(text) for text in peers]
    names = [spec.name for spec in specs]
    for spec in specs:
        if names.count(spec.name) > 1:
            raise UserError(f"--peer {spec.path}: a second model named {spec.name!r}; rename one file")
        spec.load()
    return specs


def run_bench(config: EdgeConfig, args: argparse.Namespace) -> int:
    threads, faces = check_flags(args)
    specs = model_specs(config, args.peer)
    data = accuracy.dataset_folder(args.data, args.split) if args.data else None
    results = {
        "machine": report.machine(),
        "source": args.source or f"generated 640x480 MPEG-4, {args.frames} frames, sample faces",
        "detector": config.detector.model,
        "pipeline": time_pipeline(config, args, threads, faces),
        "classifiers": compare_speed(specs, stream.face_crops(), threads, args.repeats),
    }
    results["targets"] = report.targets(results)
    if data:
        classes, images, truth = accuracy.load_dataset(data)
        results["data"] = str(data)
        results["accuracy"] = {spec.name: accuracy.evaluate(spec.load(), images, truth, classes) for spec in specs}
    print(report.markdown(results))
    if args.json:
        write_json(args.json, results)
    return 0


def time_pipeline(config: EdgeConfig, args: argparse.Namespace, threads: list[int], faces: list[int]) -> list[dict]:
    """The pipeline over ``--source``, or over a generated clip per face count, at each thread count."""
    with tempfile.TemporaryDirectory() as scratch:
        if args.source:
            sources = [args.source]
        else:
            sources = [str(stream.write_clip(Path(scratch) / f"faces{n}.mp4", n, args.frames)) for n in faces]
        rows = []
        for uri in sources:
            for count in threads:
                # A run of its own outbox: with --mqtt the bench never touches the daemon's stored messages.
                outbox = config.outbox.model_copy(update={"path": Path(scratch) / f"outbox-{len(rows)}.db"})
                settings = config.model_copy(update={"threads": count, "outbox": outbox})
                rows.append(measure_pipeline(settings, uri, args.mqtt))
        return rows


def write_json(path: Path, results: dict) -> None:
    try:
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--json {path}: cannot write ({exc.strerror or exc})") from None
