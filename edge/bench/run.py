"""The ``edge bench`` command: run every measurement ``edge.bench`` asks for, print the tables, write the JSON."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from common.errors import UserError
from edge.bench import accuracy, report, stream
from edge.bench.models import ModelSpec, compare_speed, parse_peer, shipped_specs
from edge.bench.speed import measure_pipeline
from edge.config import EdgeConfig
from edge.source_uri import is_local_path, redacted


def positive_ints(flag: str, text: str) -> list[int]:
    """``"1,2"`` -> [1, 2]; anything else is a one-line error naming the flag."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise UserError(f"{flag} {text}: expected positive integers separated by commas, e.g. 1,2")
    return values


def check_json_folder(path: Path | None) -> None:
    """The JSON's folder, checked before the first measurement like every key (those in edge.config): a
    mistake costs a second, not a wasted run."""
    if path and not path.parent.is_dir():
        raise UserError(f"--json {path}: folder {path.parent} does not exist")


def check_source_ends(source: str | None) -> None:
    """A bench times one pass over its source, so the source must end. Checked here, at the bench's start,
    not when the config is loaded: a bench setting must never stop ``edge run``."""
    if source is not None and not is_local_path(source):
        raise UserError(
            f"edge.bench.source {redacted(source)}: a live camera or stream never ends; give a video file or "
            "an image folder (or leave it out for generated clips)"
        )


def model_specs(config: EdgeConfig, peers: list[str]) -> list[ModelSpec]:
    """The shipped model, its float twin and the peers, each loaded once to fail early, names unique."""
    specs = shipped_specs(config) + [parse_peer(text) for text in peers]
    names = [spec.name for spec in specs]
    for spec in specs:
        if names.count(spec.name) > 1:
            raise UserError(f"--peer {spec.path}: a second model named {spec.name!r}; rename one file")
        spec.load()
    return specs


def run_bench(config: EdgeConfig) -> int:
    """Every option comes from ``config.bench`` (the file, command-line flags applied), validated once."""
    bench = config.bench
    check_source_ends(bench.source)
    check_json_folder(bench.json_file)
    specs = model_specs(config, bench.peers)
    data = accuracy.dataset_folder(bench.data, bench.split) if bench.data else None
    results = {
        "machine": report.machine(),
        "source": bench.source or f"generated 640x480 MPEG-4, {bench.frames} frames, sample faces",
        "detector": config.detector.model,
        "pipeline": time_pipeline(config),
        "classifiers": compare_speed(specs, stream.face_crops(), bench.threads, bench.repeats),
    }
    results["targets"] = report.targets(results)
    if data:
        classes, images, truth = accuracy.load_dataset(data)
        results["data"] = str(data)
        results["accuracy"] = {spec.name: accuracy.evaluate(spec.load(), images, truth, classes) for spec in specs}
    print(report.markdown(results))
    if bench.json_file:
        write_json(bench.json_file, results)
    return 0


def time_pipeline(config: EdgeConfig) -> list[dict]:
    """The pipeline over ``bench.source``, or over a generated clip per face count, at each thread count."""
    bench = config.bench
    # event_every_frame: a heartbeat due on every frame, so every frame publishes (the worst case).
    events = config.events.model_copy(update={"heartbeat_s": 1e-6}) if bench.event_every_frame else config.events
    with tempfile.TemporaryDirectory() as scratch:
        if bench.source:
            sources = [bench.source]
        else:
            sources = [str(stream.write_clip(Path(scratch) / f"faces{n}.mp4", n, bench.frames)) for n in bench.faces]
        rows = []
        for uri in sources:
            for count in bench.threads:
                # A run of its own outbox: with --mqtt the bench never touches the daemon's stored messages.
                outbox = config.outbox.model_copy(update={"path": Path(scratch) / f"outbox-{len(rows)}.db"})
                settings = config.model_copy(update={"threads": count, "outbox": outbox, "events": events})
                rows.append(measure_pipeline(settings, uri, bench.mqtt))
        return rows


def write_json(path: Path, results: dict) -> None:
    try:
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--json {path}: cannot write ({exc.strerror or exc})") from None
