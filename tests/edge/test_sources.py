"""Real inputs: an image folder with junk in it, a video file written here, an RTSP stream on loopback."""

import logging
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from common.errors import UserError
from edge.source_uri import SourceKind, is_local_path, redacted, resolved, source_kind
from edge.sources import ImageFolderSource, LiveSource, VideoFileSource, open_source
from tests.support import SAMPLES


def test_folder_yields_images_in_name_order_and_counts_unreadable_ones(tmp_path):
    for name in ("b.jpg", "d.png"):
        shutil.copy(SAMPLES / "astronaut_1.jpg", tmp_path / name)
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "c.png").write_bytes(b"")
    (tmp_path / "README.md").write_text("not a frame")
    source = open_source(str(tmp_path))
    assert isinstance(source, ImageFolderSource)
    frames = list(source.frames(threading.Event()))
    assert [f.index for f in frames] == [1, 3]
    assert frames[0].image.shape == (480, 640, 3)
    assert source.skipped == 2


def test_a_folder_without_images_or_unreadable_is_one_line_not_zero_frames(tmp_path, monkeypatch):
    (tmp_path / "face.gif").write_bytes(b"GIF89a")
    with pytest.raises(UserError, match=r"no images in the folder \(1 other file\(s\); read: .bmp"):
        open_source(str(tmp_path))

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "iterdir", denied)  # tests run as root here, so chmod would not do
    with pytest.raises(UserError, match=f"{tmp_path}: cannot list the image folder .Permission denied"):
        open_source(str(tmp_path))


def test_picamera2_missing_stops_at_start_with_the_cure(monkeypatch):
    """Not a camera thread retrying an import forever while the daemon says it is ready."""
    monkeypatch.setitem(sys.modules, "picamera2", None)  # as on any machine but Raspberry Pi OS
    with pytest.raises(UserError, match="source picamera2: cannot import picamera2 .*apt install python3-picamera2"):
        open_source("picamera2")


def test_video_file_yields_every_frame_in_order(video):
    source = open_source(str(video))
    assert isinstance(source, VideoFileSource) and not source.live
    indices = [frame.index for frame in source.frames(threading.Event())]
    source.close()
    assert indices == list(range(30))


def test_unknown_source_and_unreadable_video_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such camera, stream, video file or image folder"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(UserError, match="junk.mp4: not a readable video file"):
        open_source(str(tmp_path / "junk.mp4"))


def next_frames(frames, count: int, timeout: float):
    """Up to ``count`` frames from a live iterator, or fewer once ``timeout`` passes."""
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.append(next(frames))
    return got


def test_rtsp_stream_newest_frame_and_reconnect_after_the_stream_dies(rtsp_server, caplog):
    caplog.set_level(logging.INFO, logger="edge.sources")
    source = open_source(rtsp_server.url)
    assert isinstance(source, LiveSource)
    stop = threading.Event()
    frames = source.frames(stop)
    try:
        first = next_frames(frames, 5, 15)
        assert len(first) == 5 and first[0].image.shape == (480, 640, 3)
        time.sleep(0.5)  # the grabber keeps reading; unconsumed frames are replaced and counted
        assert source.drops > 0
        rtsp_server.stop()
        time.sleep(1.0)
        rtsp_server.start()
        after = next_frames(frames, 5, 20)
        assert len(after) == 5 and after[0].index > first[-1].index
    finally:
        stop.set()
        source.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "edge.sources"]
    assert any("stream lost" in m or "cannot open" in m for m in messages)
    assert sum("streaming" in m for m in messages) == 2  # once per state change, not per frame


def test_a_grabber_that_dies_raises_in_the_camera_thread_instead_of_hanging():
    """A capture that raises something a reconnect cannot cure (a driver bug, an unplugged Pi camera's
    RuntimeError) must end ``frames()`` with a one-line error, not leave it waiting forever."""

    class BrokenCapture:
        def read(self):
            raise RuntimeError("Camera frontend has timed out!")

        def release(self):
            pass

    source = LiveSource("picamera2", BrokenCapture)
    with pytest.raises(UserError, match="picamera2: the frame grabber stopped .RuntimeError: Camera frontend"):
        list(source.frames(threading.Event()))
    source.close()


def test_a_stream_password_never_reaches_the_log_or_the_error(caplog):
    """IP cameras take their credentials in the URL; the journal must not keep them."""
    caplog.set_level(logging.INFO, logger="edge.sources")

    def refuse():
        raise OSError("no video from it")

    source = LiveSource("rtsp://admin:s3cret@127.0.0.1:1/stream1", refuse)
    assert source.shown == "rtsp://admin:***@127.0.0.1:1/stream1"
    stop = threading.Event()
    reader = threading.Thread(target=lambda: list(source.frames(stop)))
    reader.start()
    deadline = time.monotonic() + 5
    while "cannot open" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    reader.join()
    source.close()
    assert "rtsp://admin:***@127.0.0.1:1/stream1: cannot open" in caplog.text
    assert "s3cret" not in caplog.text and "s3cret" not in source._grabber.name

    def broken():  # a failure no reconnect cures ends frames() with an error naming the stream
        raise RuntimeError("driver bug")

    with pytest.raises(UserError) as error:
        list(LiveSource("rtsp://admin:s3cret@127.0.0.1:1/stream1", broken).frames(threading.Event()))
    assert "rtsp://admin:***@127.0.0.1:1/stream1: the frame grabber stopped" in str(error.value)
    assert "s3cret" not in str(error.value)
    assert redacted("rtsp://u:s3cret@[cam/s") == "rtsp://***@[cam/s"  # malformed: still hidden, no crash


def test_stable_device_paths_are_cameras_not_missing_files():
    """/dev/v4l/by-id/... names one USB camera whatever videoN it gets at boot."""
    assert isinstance(open_source("/dev/v4l/by-id/usb-Logitech_C920-video-index0"), LiveSource)
    assert isinstance(open_source("/dev/video2"), LiveSource)


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("0", SourceKind.DEVICE),
        ("/dev/video2", SourceKind.DEVICE),
        ("/dev/v4l/by-id/usb-cam-video-index0", SourceKind.DEVICE),
        ("picamera2", SourceKind.PICAMERA),
        ("rtsp://cam/1", SourceKind.STREAM),
        ("HTTPS://cam/mjpeg", SourceKind.STREAM),
        ("/dev/shm/clip.mp4", SourceKind.MISSING),  # a file under /dev is a file, not a camera
        ("ftp://host/clip.mp4", SourceKind.MISSING),  # not a scheme FFmpeg streams: a (missing) file name
    ],
)
def test_one_rule_says_what_a_source_names_for_config_and_opening(uri, kind):
    assert source_kind(uri) is kind
    assert is_local_path(uri) is (kind is SourceKind.MISSING)
    moved = resolved(uri, lambda path: Path("/base") / path.name)
    assert moved == (uri if kind is not SourceKind.MISSING else "/base/clip.mp4")


def test_a_local_source_is_judged_by_what_is_on_disk(tmp_path, video):
    shutil.copy(SAMPLES / "astronaut_1.jpg", tmp_path / "face.JPG")
    assert source_kind(str(tmp_path)) is SourceKind.IMAGE_FOLDER
    assert source_kind(str(tmp_path / "face.JPG")) is SourceKind.IMAGE_FILE
    assert source_kind(str(video)) is SourceKind.VIDEO_FILE
    assert source_kind(str(tmp_path / "gone.mp4")) is SourceKind.MISSING


def test_a_pi_camera_that_fails_to_start_is_released_for_the_next_attempt():
    """Else picamera2 keeps it acquired and every reopen finds the camera busy."""
    from edge.sources import PiCamera

    class Picamera2:
        closed = False

        def create_video_configuration(self, main):
            return main

        def configure(self, configuration):
            raise RuntimeError("Failed to configure camera")

        def close(self):
            Picamera2.closed = True

    with pytest.raises(OSError, match="Failed to configure camera"):
        PiCamera(Picamera2)
    assert Picamera2.closed
