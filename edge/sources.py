"""Frame sources, one URI each: a camera index or a V4L2 device path (``/dev/videoN``, ``/dev/v4l/by-id/...``),
``picamera2``, an ``rtsp://``/``http(s)://`` stream, a video file, or a folder of images.

Two behaviours, because the two kinds of input want opposite things:

* live sources (cameras, streams) are read by a grabber thread that keeps only the newest frame, so the
  pipeline always works on *now* and never falls behind; overwritten frames are counted as ``drops``.
  A device or stream that fails to open or stops delivering is reopened with capped exponential backoff,
  logged once per state change (not once per attempt).
* finite sources (files, folders) yield every frame, in order; an unreadable image is skipped and counted.

A ``Frame`` carries its 0-based index in the source (live: every frame the device delivered, dropped ones
included) and how long decoding it took.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from common.errors import UserError, one_line
from common.media import IMAGE_SUFFIXES
from edge.source_uri import SourceKind, redacted, source_kind

log = logging.getLogger(__name__)

OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0
WAIT_SLICE_S = 0.1  # how often a waiting reader re-checks the stop flag
GRABBER_JOIN_S = 0.5  # a grabber stuck in a read is a daemon thread: do not hold up a shutdown for it


def quiet_opencv() -> None:
    """OpenCV and its FFmpeg print a warning on every failed (re)connect; our own log says it once."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@dataclass(frozen=True)
class Frame:
    index: int
    image: np.ndarray  # BGR
    decode_s: float


class Capture(Protocol):
    """What a live source needs from a device: cv2.VideoCapture already is one."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class Source:
    live = False
    continuous = True  # each frame follows the last (a video): the detector looks first where faces just were

    def __init__(self, uri: str):
        self.uri = uri
        self.shown = redacted(uri)  # what logs, errors and thread names say
        self.drops = 0  # live frames replaced by a newer one before the pipeline took them
        self.skipped = 0  # unreadable images or frames

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device; finite sources hold nothing between frames."""


def folder_entries(folder: Path) -> list[Path]:
    """A folder's entries in name order; one that cannot be read (permissions) is a one-line error."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise UserError(f"{folder}: cannot list the image folder ({exc.strerror or exc})") from None


class ImageFolderSource(Source):
    """Image files in name order (a folder's, or a single one); each is one frame, and a photo of its own."""

    continuous = False

    def __init__(self, uri: str, images: list[Path]):
        super().__init__(uri)
        self.images = images

    @classmethod
    def from_folder(cls, uri: str, folder: Path) -> ImageFolderSource:
        """Every image of the folder; other files (a README) are ignored, and their count logged. A folder
        with no image at all is a mistake (a typo, the wrong format), not a run of zero frames."""
        files = [path for path in folder_entries(folder) if path.is_file()]
        images = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            suffixes = " ".join(sorted(IMAGE_SUFFIXES))
            raise UserError(f"{folder}: no images in the folder ({len(files)} other file(s); read: {suffixes})")
        if len(files) > len(images):
            log.info("%s: ignoring %d non-image file(s)", folder, len(files) - len(images))
        return cls(uri, images)

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        for index, path in enumerate(self.images):
            if stop.is_set():
                return
            started = time.perf_counter()
            try:
                image = read_image(path)
            except UnreadableImage as exc:
                self.skipped += 1
                log.warning("%s, skipped (%d so far)", exc, self.skipped)
                continue
            yield Frame(index, image, time.perf_counter() - started)


class UnreadableImage(UserError):
    """One image file that cannot be read or decoded: a batch records it and goes on with the next."""


def read_image(path: Path) -> np.ndarray:
    """The image as BGR; an unreadable file raises ``UnreadableImage`` saying why (no permission, not an
    image, a broken file), which ``cv2.imread`` alone would hide behind a None."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UnreadableImage(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UnreadableImage(f"{path}: not an image OpenCV can decode (empty, broken or another format)")
    return image


class VideoFileSource(Source):
    """Every frame of a video file, in order (no real-time pacing: a file is processed as fast as it can).

    A damaged file (bytes overwritten, cut short) has frames FFmpeg cannot decode; each failed read moves on
    by one frame, so reading goes on past them: they are counted in ``skipped``, the first is logged, and the
    end of the file says how many of the container's frames were unreadable or missing. The real end is the
    container's frame count; for a container that does not know it, ``GIVE_UP_AFTER`` failed reads in a row."""

    GIVE_UP_AFTER = 50

    def __init__(self, uri: str, path: Path):
        super().__init__(uri)
        self.path = path
        self.capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self.capture.isOpened():
            raise UserError(f"{path}: not a readable video file (or image folder); a cut-short MP4 cannot be opened")
        self.frame_count = max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)  # 0: the container does not say
        self.decoded = 0

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        index = 0  # reads so far: a frame's place in the file, undecodable ones included
        failed = 0  # failed reads since the last good one: damage if a good one follows, else the end
        while not stop.is_set():
            started = time.perf_counter()
            ok, image = self.capture.read()
            index += 1
            if not ok:
                failed += 1
                if self._at_the_end(index, failed):
                    break
                continue
            if failed:
                self._undecodable(index - 1 - failed, failed)
                failed = 0
            self.decoded += 1
            yield Frame(index - 1, image, time.perf_counter() - started)
        if not stop.is_set():
            self._summarise()

    def _at_the_end(self, reads: int, failed: int) -> bool:
        """A failed read is the end once the container's frames are all read (or, not knowing their number,
        after ``GIVE_UP_AFTER`` failures in a row)."""
        return reads >= self.frame_count if self.frame_count else failed >= self.GIVE_UP_AFTER

    def _undecodable(self, first: int, count: int) -> None:
        if not self.skipped:
            log.warning(
                "%s: frame %d cannot be decoded; reading on past damaged frames (counted, the total comes at the end)",
                self.shown,
                first,
            )
        self.skipped += count

    def _summarise(self) -> None:
        """One line at the end of a damaged or cut-short file: what was lost, against what the container says."""
        expected = max(self.frame_count, self.decoded + self.skipped)
        if self.decoded < expected:
            log.warning(
                "%s: %d of %d frames (the container's count) unreadable or missing: %d undecodable, "
                "%d missing at the end; %d read",
                self.shown,
                expected - self.decoded,
                expected,
                self.skipped,
                expected - self.decoded - self.skipped,
                self.decoded,
            )

    def close(self) -> None:
        self.capture.release()


class LiveSource(Source):
    """The newest frame of a camera or stream, grabbed in a background thread; reopened when it fails."""

    live = True

    def __init__(self, uri: str, open_capture: Callable[[], Capture]):
        super().__init__(uri)
        self._open_capture = open_capture
        self._latest: Frame | None = None
        self._fresh = threading.Condition()
        self._stopping = threading.Event()
        self._grabber: threading.Thread | None = None
        self.connected: bool | None = None  # None until the first open attempt has succeeded or failed
        self._error: str | None = None  # why the grabber thread died, if it did

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """The newest frame each time one arrives. If the grabber thread dies of something a reconnect
        cannot cure, this raises instead of waiting forever on a camera that will never deliver again."""
        self._grabber = threading.Thread(target=self._grab_safely, name=f"grab {self.shown}", daemon=True)
        self._grabber.start()
        while not stop.is_set() and not self._stopping.is_set():
            with self._fresh:
                if self._latest is None:
                    self._fresh.wait(WAIT_SLICE_S)
                frame, self._latest = self._latest, None
            if frame is not None:
                yield frame
        if self._error is not None:
            raise UserError(f"{self.shown}: the frame grabber stopped ({self._error})")

    def close(self) -> None:
        self._stopping.set()
        if self._grabber is not None:
            self._grabber.join(timeout=GRABBER_JOIN_S)

    def _grab_safely(self) -> None:
        try:
            self._grab_forever()
        except Exception as exc:  # noqa: BLE001 - handed to frames(), which raises it in the camera's thread
            self._error = one_line(exc)
            self._stopping.set()

    def _grab_forever(self) -> None:
        index = 0
        backoff = BACKOFF_START_S
        while not self._stopping.is_set():
            capture = self._try_open()
            if capture is not None:
                first_index = index
                index = self._grab_until_failure(capture, index)
                capture.release()
                if self._stopping.is_set():
                    return
                self._set_connected(False, "stream lost")
                if index > first_index:  # it delivered for a while: a fresh outage starts with a short wait
                    backoff = BACKOFF_START_S
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _try_open(self) -> Capture | None:
        try:
            return self._open_capture()
        except OSError as exc:
            self._set_connected(False, f"cannot open ({exc})")
            return None

    def _grab_until_failure(self, capture: Capture, index: int) -> int:
        """Read until the device stops delivering; returns the next frame index."""
        while not self._stopping.is_set():
            started = time.perf_counter()
            ok, image = capture.read()
            if not ok:
                return index
            if image is None or image.size == 0:
                self.skipped += 1  # a corrupt frame from a stream that is still alive
                continue
            self._set_connected(True, "streaming")
            with self._fresh:
                if self._latest is not None:
                    self.drops += 1
                self._latest = Frame(index, image, time.perf_counter() - started)
                self._fresh.notify()
            index += 1
        return index

    def _set_connected(self, connected: bool, why: str) -> None:
        """Log transitions only: a camera unplugged for an hour is one warning, not thousands."""
        if connected != self.connected:
            if connected:
                log.info("%s: %s", self.shown, why)
            else:
                log.warning("%s: %s; retrying with backoff up to %g s", self.shown, why, BACKOFF_MAX_S)
        self.connected = connected


def open_opencv(target: int | str, backend: int) -> Callable[[], Capture]:
    """A capture opener for an OpenCV device or stream. Streams get open/read timeouts, so a dead one
    fails fast instead of hanging the grabber for FFmpeg's default 30 s (V4L2 rejects those properties)."""
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]

    def open_capture() -> Capture:
        capture = cv2.VideoCapture(target, backend, params if backend == cv2.CAP_FFMPEG else [])
        if not capture.isOpened():
            capture.release()
            raise OSError("no video from it")
        return capture

    return open_capture


def import_picamera2() -> type:
    """picamera2 exists only on Raspberry Pi OS, from apt (not PyPI): imported when such a source opens, so a
    system without it stops at start with the cure, instead of a camera thread retrying an import forever."""
    try:
        from picamera2 import Picamera2
    except (ImportError, ValueError) as exc:  # ValueError: apt's build against another numpy ("dtype size changed")
        raise UserError(
            f"source picamera2: cannot import picamera2 ({exc}); on Raspberry Pi OS: apt install "
            "python3-picamera2, in a venv made with --system-site-packages (deploy/install.sh does)"
        ) from None
    return Picamera2


class PiCamera:
    """picamera2 behind the Capture interface."""

    def __init__(self, picamera2: type, size: tuple[int, int] = (640, 480)):
        try:
            self.camera = picamera2()
        except (RuntimeError, IndexError) as exc:
            raise OSError(str(exc)) from None
        try:
            # "RGB888" in libcamera's naming is B, G, R in memory: what OpenCV calls BGR.
            self.camera.configure(self.camera.create_video_configuration(main={"format": "RGB888", "size": size}))
            self.camera.start()
        except (RuntimeError, IndexError) as exc:
            self.camera.close()  # else the camera stays acquired and every reopen finds it busy
            raise OSError(str(exc)) from None

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            return True, self.camera.capture_array()
        except RuntimeError:
            return False, None

    def release(self) -> None:
        self.camera.close()


def open_source(uri: str) -> Source:
    """The source for a camera's URI (relative paths were already resolved by the config)."""
    quiet_opencv()
    kind = source_kind(uri)
    if kind is SourceKind.PICAMERA:
        return LiveSource(uri, functools.partial(PiCamera, import_picamera2()))
    if kind is SourceKind.DEVICE:
        return LiveSource(uri, open_opencv(int(uri) if uri.isdigit() else uri, cv2.CAP_V4L2))
    if kind is SourceKind.STREAM:
        return LiveSource(uri, open_opencv(uri, cv2.CAP_FFMPEG))
    if kind is SourceKind.IMAGE_FOLDER:
        return ImageFolderSource.from_folder(uri, Path(uri))
    if kind is SourceKind.IMAGE_FILE:
        return ImageFolderSource(uri, [Path(uri)])
    if kind is SourceKind.VIDEO_FILE:
        return VideoFileSource(uri, Path(uri))
    raise UserError(f"{uri}: no such camera, stream, video file or image folder")
