"""``edge``: the on-device daemon (``edge run``), its throughput benchmark (``edge bench``) and the study of
a recording (``edge annotate``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from common.configfile import ConfigError, absolute, add_config_flag, default_config_path, describe
from common.errors import UserError, exit_on_user_error
from edge import config as edge_config
from edge.config import CameraConfig, EdgeConfig, resolve_peer
from edge.detector import PLANS
from edge.source_uri import is_image_source, resolved

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_config_flag(common, verb=True)
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(prog="edge", description=__doc__.replace("``", ""))
    add_config_flag(parser)
    verbs = parser.add_subparsers(dest="verb", required=True)

    run = verbs.add_parser("run", parents=[common], help="detect faces, classify emotions and publish events")
    run.add_argument(
        "--source",
        help="camera index, /dev/videoN (or /dev/v4l/by-id/...), picamera2, rtsp://..., video file; "
        "or an image folder or image file: photos, one record per face (see --format)",
    )
    run.add_argument("--camera", help="run only this configured camera (with --source: the name to publish under)")
    run.add_argument("--mqtt-host", help="(edge.mqtt.host)")
    run.add_argument("--mqtt-port", type=int, help="(edge.mqtt.port)")
    run.add_argument(
        "--stdout",
        action="store_true",
        help="print events as JSON lines instead of publishing to MQTT (edge.output: stdout)",
    )
    run.add_argument(
        "--format",
        choices=["jsonl", "csv"],
        help="photos (--source: image folder or file): record format (edge.batch.format; default: jsonl)",
    )
    run.add_argument("--output", help="photos: write the records to this file (edge.batch.output; default: stdout)")
    run.add_argument(
        "--detector",
        choices=list(PLANS),
        help="(edge.detector.model; default: multiscale; skip: each image is a face crop)",
    )
    run.add_argument(
        "--small-faces",
        action="store_true",
        default=None,
        help="also find faces down to ~32 px: a photo at several times the cost, a stream in more frames of its search "
        "(edge.detector.small_faces)",
    )
    run.add_argument(
        "--preview",
        action="store_true",
        default=None,
        help="serve the live view, http://127.0.0.1:8090/ by default (edge.preview.enabled)",
    )

    annotate = verbs.add_parser(
        "annotate", parents=[common], help="annotated video, per-face CSV, timeline and summary of a recording"
    )
    annotate.add_argument("source", help="video file or folder of frames")
    annotate.add_argument("--out", help="output folder (edge.annotate.out_dir)")
    annotate.add_argument(
        "--min-face-px", type=int, help="smaller faces are marked too small, not classified (edge.min_readable_px)"
    )
    annotate.add_argument("--codec", help="FourCC of the annotated video: mp4v, avc1 (edge.annotate.codec)")
    annotate.add_argument("--fps", type=float, help="frame rate of an image folder (edge.annotate.fps)")
    annotate.add_argument("--detector", choices=list(PLANS), help="(edge.detector.model)")
    annotate.add_argument("--small-faces", action="store_true", default=None, help="(edge.detector.small_faces)")

    bench = verbs.add_parser("bench", parents=[common], help="speed per stage and per model, and accuracy side by side")
    bench.add_argument(
        "--source", help="video file or image folder (edge.bench.source; default: 640x480 clips of the sample face)"
    )
    bench.add_argument("--frames", type=int, help="length of each generated clip (edge.bench.frames; default: 300)")
    bench.add_argument("--faces", help="faces per frame of the generated clips (edge.bench.faces; default: 1,4)")
    bench.add_argument("--threads", help="interpreter thread counts to time (edge.bench.threads; default: 1,2)")
    bench.add_argument("--model", help="the shipped int8 model to time (edge.model); its float twin comes along")
    bench.add_argument(
        "--peer",
        action="append",
        metavar="MODEL[:range=0-1,labels=a,b,...]",
        help="another TFLite emotion model to compare (repeatable, replaces edge.bench.peers; see docs/benchmark.md)",
    )
    bench.add_argument(
        "--data", help="folder of class subfolders (or of splits, with --split): accuracy (edge.bench.data)"
    )
    bench.add_argument("--split", help="the split folder inside --data, e.g. test (edge.bench.split)")
    bench.add_argument("--repeats", type=int, help="classify calls timed per model (edge.bench.repeats; default: 300)")
    bench.add_argument("--json", help="also write every figure to this JSON file (edge.bench.json)")
    bench.add_argument("--detector", choices=list(PLANS), help="(edge.detector.model)")
    bench.add_argument("--accelerator", choices=["cpu", "edgetpu"], help="(edge.accelerator) for the shipped model")
    bench.add_argument(
        "--mqtt", action="store_true", default=None, help="publish events to the configured broker (edge.bench.mqtt)"
    )
    bench.add_argument(
        "--event-every-frame",
        action="store_true",
        default=None,
        help="a heartbeat event on every frame: the publishing worst case (edge.bench.event_every_frame)",
    )
    return parser


def local_source(source: str | None) -> str | None:
    """A video file or folder on the command line is relative to the working directory; devices and URLs stay."""
    return None if source is None else resolved(source, Path.resolve)


def int_list(flag: str, text: str | None) -> list[int] | None:
    """``--threads 1,2`` -> [1, 2]; a flag not given is None, so the config file's list stays."""
    from edge.bench.run import positive_ints

    return None if text is None else positive_ints(flag, text)


def bench_overrides(args: argparse.Namespace) -> dict:
    """The ``edge bench`` flags as ``edge`` keys: each one given replaces the file's value (``--peer``: the list)."""
    return {
        "model": absolute(args.model),
        "detector.model": args.detector,
        "accelerator": args.accelerator,
        "bench.source": local_source(args.source),
        "bench.frames": args.frames,
        "bench.faces": int_list("--faces", args.faces),
        "bench.threads": int_list("--threads", args.threads),
        "bench.repeats": args.repeats,
        "bench.peers": args.peer and [resolve_peer(p, absolute) for p in args.peer],
        "bench.data": absolute(args.data),
        "bench.split": args.split,
        "bench.json": absolute(args.json),
        "bench.mqtt": args.mqtt,
        "bench.event_every_frame": args.event_every_frame,
    }


def annotate_overrides(args: argparse.Namespace) -> dict:
    """The ``edge annotate`` flags as ``edge`` keys."""
    return {
        "annotate.out_dir": absolute(args.out),
        "min_readable_px": args.min_face_px,
        "annotate.codec": args.codec,
        "annotate.fps": args.fps,
        "detector.model": args.detector,
        "detector.small_faces": args.small_faces,
    }


def select_cameras(settings: EdgeConfig, source: str | None, camera: str | None) -> None:
    """``--source`` replaces the configured cameras with one; ``--camera`` picks one or names the source."""
    if source is not None:
        name = camera or (settings.cameras[0].name if settings.cameras else "camera")
        uri = local_source(source)
        try:
            settings.cameras = [CameraConfig(name=name, source=uri, batch=is_image_source(uri))]
        except ValidationError as exc:
            raise ConfigError(describe(exc, "camera", "--camera/--source")) from None
    elif camera is not None:
        chosen = [c for c in settings.cameras if c.name == camera]
        if not chosen:
            known = ", ".join(c.name for c in settings.cameras) or "none"
            raise UserError(f"--camera {camera}: no such camera in the config (configured: {known})")
        settings.cameras = chosen
    if not settings.cameras:
        raise UserError("edge.cameras: no camera configured (add one or pass --source)")


def no_live_view(settings: EdgeConfig, camera: CameraConfig, flag: bool) -> None:
    """A photo batch is judged file by file straight into records, with no stream for the live view to show:
    ``--preview`` cannot do what it asks, so it is refused; ``edge.preview.enabled`` in the file is meant for
    the daemon's cameras, so a batch run with that file only says it is set aside."""
    if flag:
        raise UserError(
            f"--preview: {camera.source} is a photo batch (an image folder or file), which has no live view; "
            "the live view is for cameras, streams and video files"
        )
    if settings.preview.enabled:
        log.warning("edge.preview.enabled: no live view for the photo batch %s", camera.source)


def dispatch(args: argparse.Namespace) -> int:
    config_path = args.config if args.config is not None else default_config_path()
    if args.verb == "bench":
        from edge.bench.run import run_bench

        return run_bench(edge_config.load(config_path, bench_overrides(args)))
    if args.verb == "annotate":
        from edge.annotate import annotate

        return annotate(edge_config.load(config_path, annotate_overrides(args)), local_source(args.source))
    overrides = {
        "mqtt.host": args.mqtt_host,
        "mqtt.port": args.mqtt_port,
        "output": "stdout" if args.stdout else None,
        "batch.format": args.format,
        "batch.output": absolute(args.output),
        "detector.model": args.detector,
        "detector.small_faces": args.small_faces,
        "preview.enabled": args.preview,
    }
    settings = edge_config.load(config_path, overrides)
    select_cameras(settings, args.source, args.camera)
    batch = [camera for camera in settings.cameras if camera.batch]
    if batch:
        if len(settings.cameras) > 1:
            raise UserError(f"camera {batch[0].name}: a photo batch runs alone (pass --camera {batch[0].name})")
        no_live_view(settings, batch[0], flag=bool(args.preview))
        from edge.batch import run_batch

        return run_batch(settings, batch[0])
    if args.format is not None or args.output is not None:
        raise UserError(
            "--format/--output are for photos (an image folder or file as --source); "
            "a video's or camera's events go to MQTT or --stdout"
        )
    from edge.daemon import run

    return run(settings)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    return exit_on_user_error("edge", dispatch, args)


if __name__ == "__main__":
    sys.exit(main())
