"""What a camera's ``source`` string names, decided in one place for the config (which resolves relative
paths), the command line, and the code that opens it (edge.sources).

A source is a camera index (``0``), a V4L2 device path (``/dev/videoN``, ``/dev/v4l/by-id/...``),
``picamera2``, a stream URL (``rtsp://``, ``http(s)://``...), or a local path: a video file, a folder of
images or a single image. The first three are live and told apart from the text alone, so the config can
classify a source before it exists; a local path's kind depends on what is on disk when it is opened.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from common.media import IMAGE_SUFFIXES

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")


class SourceKind(enum.Enum):
    PICAMERA = "picamera2"
    DEVICE = "V4L2 device"
    STREAM = "stream"
    IMAGE_FOLDER = "image folder"
    IMAGE_FILE = "image file"
    VIDEO_FILE = "video file"
    MISSING = "missing"  # a local path with nothing (or nothing readable) there


LIVE_KINDS = frozenset({SourceKind.PICAMERA, SourceKind.DEVICE, SourceKind.STREAM})
PHOTO_KINDS = frozenset({SourceKind.IMAGE_FOLDER, SourceKind.IMAGE_FILE})


def is_v4l2_device(source: str) -> bool:
    """A camera index or a device path: ``/dev/video0``, or a stable name such as ``/dev/v4l/by-id/...``
    (what a device with two USB cameras wants, since their ``videoN`` numbers can swap at boot). Any other
    file under /dev (``/dev/shm/clip.mp4``) is a file."""
    return source.isdigit() or source.startswith(("/dev/video", "/dev/v4l/"))


def is_stream_url(source: str) -> bool:
    """A URL whose scheme FFmpeg reads as a network stream (the scheme in any case: ``RTSP://`` too)."""
    scheme, separator, _ = source.partition("://")
    return bool(separator) and scheme.lower() in STREAM_SCHEMES


def live_kind(source: str) -> SourceKind | None:
    """The kind of a camera or stream, from the text alone; None for a local path."""
    if source == SourceKind.PICAMERA.value:
        return SourceKind.PICAMERA
    if is_v4l2_device(source):
        return SourceKind.DEVICE
    if is_stream_url(source):
        return SourceKind.STREAM
    return None


def is_local_path(source: str) -> bool:
    """True for a video file, image folder or image; False for a V4L2 device, picamera2 or a stream URL."""
    return live_kind(source) is None


def source_kind(source: str) -> SourceKind:
    """The kind of any source; a local path is looked at on disk (so relative paths must be resolved first)."""
    kind = live_kind(source)
    if kind is not None:
        return kind
    path = Path(source)
    if path.is_dir():
        return SourceKind.IMAGE_FOLDER
    if path.is_file():
        return SourceKind.IMAGE_FILE if path.suffix.lower() in IMAGE_SUFFIXES else SourceKind.VIDEO_FILE
    return SourceKind.MISSING


def is_image_source(source: str) -> bool:
    """An image folder or a single image file: a batch of independent photos, not a video."""
    return source_kind(source) in PHOTO_KINDS


def resolved(source: str, resolve: Callable[[Path], Path | None]) -> str:
    """A local path passed through ``resolve`` (against the config file's folder, or the working directory for
    a flag); devices, picamera2 and URLs stay as written."""
    return str(resolve(Path(source))) if is_local_path(source) else source


def redacted(uri: str) -> str:
    """The URI as logs and errors show it: a camera's password (``rtsp://admin:secret@cam/...``) hidden."""
    if "://" not in uri or "@" not in uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:  # a malformed URL: hide everything between the scheme and the host
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
