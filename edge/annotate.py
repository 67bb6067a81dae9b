"""``edge annotate SOURCE``: a recording studied face by face, with the daemon's own pipeline.

A video file or a folder of frames goes through ``CameraPipeline`` exactly as ``edge run`` would process it
(same detector, crop, int8 model and tracker, so ids and smoothed emotions are the ones the daemon would
publish). A face whose box is under ``edge.min_readable_px`` is, as in the daemon, never classified (the
model cannot read it; see ``EdgeConfig``): here it is drawn and recorded as too small. Into
``edge.annotate.out_dir`` (``--out``) go:

* ``annotated.mp4``: every frame with each face's box, id, smoothed emotion and confidence, same frame rate;
* ``faces.csv``: one row per face per frame: time, frame, face_id, box, this frame's four scores, the
  smoothed emotion and its confidence (a too-small face: no id, no scores, emotion ``too_small``);
* ``timeline.png``, ``summary.json``, ``summary.md``: each face's emotion over time, its share of time in
  each emotion and its number of changes (``edge.timeline``).

Frames are drawn, written and dropped one at a time, so memory stays flat however long the recording; only
the per-face numbers of the timeline grow (about 20 bytes a face-frame). Ctrl-C stops early and still
writes the summary of what was processed (exit 130).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError
from edge.config import CameraConfig, EdgeConfig
from edge.daemon import stop_on_signals
from edge.drawing import draw_marks, marks_for
from edge.pipeline import CameraPipeline, FrameResult
from edge.progress import Progress
from edge.publishing import DiscardingPublisher
from edge.records import RecordWriter
from edge.source_uri import is_local_path
from edge.sources import ImageFolderSource, Source, VideoFileSource
from edge.timeline import Timeline, summary_markdown

log = logging.getLogger(__name__)

VIDEO, CSV, TIMELINE, SUMMARY_JSON, SUMMARY_MD = (
    "annotated.mp4",
    "faces.csv",
    "timeline.png",
    "summary.json",
    "summary.md",
)
TOO_SMALL_EMOTION = "too_small"
INTERRUPTED_EXIT = 130


def csv_columns(labels: list[str]) -> list[str]:
    return [
        "time_s",
        "frame",
        "face_id",
        "x",
        "y",
        "w",
        "h",
        *(f"scores.{label}" for label in labels),
        "emotion",
        "confidence",
    ]


def frame_rate(source: Source, folder_fps: float) -> float:
    """A video's own frame rate; an image folder's (or a video that does not say) is ``folder_fps``."""
    if isinstance(source, VideoFileSource):
        fps = source.capture.get(cv2.CAP_PROP_FPS)
        if fps and fps > 0:
            return float(fps)
    return folder_fps


def frame_count(source: Source) -> int | None:
    """How many frames to expect, for the progress bar (a container may not say: None)."""
    if isinstance(source, VideoFileSource):
        return int(source.capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if isinstance(source, ImageFolderSource):
        return len(source.images)
    return None


def make_out_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{path}: cannot create the output folder (edge.annotate.out_dir: {exc.strerror or exc})"
        ) from None
    return path


class Recorder:
    """The pipeline observer that writes one frame at a time: the annotated video, the CSV rows and the
    timeline's numbers. The video writer opens on the first frame, whose size every later frame keeps (an
    image folder's odd-sized frame is resized to it)."""

    def __init__(self, out: Path, labels: list[str], fps: float, codec: str, total: int | None):
        self.out, self.labels, self.fps, self.codec = out, labels, fps, codec
        self.records = RecordWriter.open(out / CSV, "csv", csv_columns(labels))
        self.timeline = Timeline(labels, fps)
        self.progress = Progress(total, "frames")
        self.video: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self.too_small = 0

    def add(self, result: FrameResult) -> None:
        index = result.frame.index
        self._write_frame(draw_marks(result.frame.image, marks_for(result, self.labels)))
        time_s = round(index / self.fps, 3)
        for track, scores in zip(result.tracks, result.probabilities):
            self.records.write(
                {
                    "time_s": time_s,
                    "frame": index,
                    "face_id": track.face_id,
                    **box_fields(track.box),
                    "scores": {label: round(float(s), 4) for label, s in zip(self.labels, scores)},
                    "emotion": self.labels[track.label],
                    "confidence": round(float(track.scores[track.label]), 4),
                }
            )
            self.timeline.add(index, track.face_id, track.label, track.scores)
        for box in result.too_small:
            self.records.write({"time_s": time_s, "frame": index, **box_fields(box), "emotion": TOO_SMALL_EMOTION})
            self.timeline.add_too_small(index)
        self.too_small += len(result.too_small)
        self.timeline.frames = index + 1
        self.frames += 1
        self.progress.step()

    def _write_frame(self, image: np.ndarray) -> None:
        if self.video is None:
            self.size = (image.shape[1], image.shape[0])
            self.video = cv2.VideoWriter(
                str(self.out / VIDEO), cv2.VideoWriter_fourcc(*self.codec), self.fps, self.size
            )
            if not self.video.isOpened():
                raise UserError(
                    f"{self.out / VIDEO}: this OpenCV cannot write {self.codec!r} video "
                    "(edge.annotate.codec / --codec; mp4v always works)"
                )
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.video.write(image)

    def close(self) -> None:
        self.progress.close()
        self.records.close()
        if self.video is not None:
            self.video.release()


def box_fields(box) -> dict:
    return dict(zip(("x", "y", "w", "h"), (round(v) for v in box)))


def annotate(config: EdgeConfig, source: str) -> int:
    """Process ``source`` completely and write the five outputs; 130 when interrupted (outputs then cover
    the frames processed so far)."""
    settings = config.annotate
    if not is_local_path(source):
        raise UserError(f"{source}: a live camera or stream never ends; annotate takes a video file or an image folder")
    out = make_out_dir(settings.out_dir)
    pipeline = CameraPipeline(config, CameraConfig(name="annotate", source=source), DiscardingPublisher())
    fps = frame_rate(pipeline.source, settings.fps)
    recorder = Recorder(out, pipeline.classifier.labels, fps, settings.codec, frame_count(pipeline.source))
    pipeline.observers.append(recorder.add)
    stop = threading.Event()
    started = time.perf_counter()
    with stop_on_signals(stop):
        try:
            pipeline.run(stop)
        finally:
            recorder.close()
    elapsed = time.perf_counter() - started
    if pipeline.error is not None:
        raise UserError(f"{source}: annotation stopped ({pipeline.error})")
    if recorder.frames == 0:
        raise UserError(f"{source}: no frame could be read ({pipeline.source.skipped} unreadable)")
    try:
        write_summary(out, source, recorder, pipeline, config.min_readable_px, elapsed)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the summary ({exc.strerror or exc})") from None
    log.info(
        "%d frames (%.1f s of video) in %.1f s, %.1f fps; %d face(s); written to %s",
        recorder.frames,
        recorder.timeline.frames / fps,
        elapsed,
        recorder.frames / elapsed,
        len(recorder.timeline.faces),
        out,
    )
    if stop.is_set():
        log.warning("interrupted: the outputs cover the first %d frames only", recorder.frames)
        return INTERRUPTED_EXIT
    return 0


def write_summary(
    out: Path, source: str, recorder: Recorder, pipeline: CameraPipeline, min_face_px: int, elapsed: float
) -> None:
    timeline = recorder.timeline
    summary = {
        "source": source,
        "labels": recorder.labels,
        "frames": recorder.frames,
        "fps": round(recorder.fps, 3),
        "duration_s": round(timeline.frames / recorder.fps, 2),
        "skipped": pipeline.source.skipped + pipeline.stats.skipped,
        "min_face_px": min_face_px,
        "too_small": recorder.too_small,
        "processing_fps": round(recorder.frames / elapsed, 1),
        "faces": timeline.summary(),
    }
    (out / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / SUMMARY_MD).write_text(summary_markdown(summary), encoding="utf-8")
    if not cv2.imwrite(str(out / TIMELINE), timeline.image(f"emotion over time: {Path(source).name}")):
        raise OSError(f"{TIMELINE} not written")
