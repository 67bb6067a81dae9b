"""The live view (``edge run --preview``, ``edge.preview``): is the camera seeing the face, and what does it think?

A small page per device at ``http://127.0.0.1:8090/`` (``edge.preview.address`` / ``port``): each camera's
annotated stream (the daemon's own boxes, ids and smoothed emotions, as MJPEG), its last events and its
stats (fps, faces, drops, per-stage latency). It is for setting a camera up, so it costs little and shows
faces to no one it should not:

* off by default; on loopback by default, and any other bind address is logged as a warning;
* frames are JPEG-encoded only while a browser is watching (a stream or snapshot asked for within the last
  ``WATCH_GRACE_S``), at most ``edge.preview.fps`` a second and once per frame however many watch; when
  nobody watches the pipeline hands over nothing but its events;
* no frame is written to disk or sent anywhere but to the browser that asked for it.

Standard library only (``http.server``); each request runs in its own thread, never in a camera's.

Routes: ``/`` the page, ``/status.json`` every camera's stats and last events,
``/cameras/<name>/stream.mjpg`` the annotated stream, ``/cameras/<name>/snapshot.jpg`` one annotated frame.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import cv2
import numpy as np

from common.errors import listen_error
from edge.config import PreviewConfig
from edge.drawing import FaceMark, draw_marks, marks_for
from edge.pipeline import CameraPipeline, FrameResult

log = logging.getLogger(__name__)

WATCH_GRACE_S = 2.0  # a viewer counts as watching this long after its last request or streamed frame
WAIT_FRAME_S = 1.0  # how long a request waits for the camera's next frame
RECENT_EVENTS = 10
JPEG_QUALITY = 80
BOUNDARY = "frame"
CAMERA_PATH = re.compile(r"^/cameras/([A-Za-z0-9_-]+)/(stream\.mjpg|snapshot\.jpg)$")


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; a host name other than localhost may be any interface."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class CameraView:
    """One camera's side of the live view: the newest frame while someone watches, encoded on request."""

    def __init__(self, pipeline: CameraPipeline):
        self.pipeline = pipeline
        self.labels = pipeline.classifier.labels
        self.events: deque[dict] = deque(maxlen=RECENT_EVENTS)
        self.encodes = 0  # JPEGs made: stays 0 while nobody watches
        self._lock = threading.Condition()  # guards the frame, its JPEG and the events
        self._latest: tuple[int, np.ndarray, list[FaceMark]] | None = None  # (sequence, BGR frame, marks)
        self._encoded: tuple[int, bytes] | None = None
        self._sequence = 0
        self._watched_until = 0.0

    def observe(self, result: FrameResult) -> None:
        """The pipeline's observer (its thread): keeps the events, and the frame only while watched."""
        if result.events:
            with self._lock:
                self.events.extend(
                    {key: value for key, value in event.items() if key != "snapshot"} for event in result.events
                )
        if time.monotonic() >= self._watched_until:
            return
        marks = marks_for(result, self.labels)
        with self._lock:
            self._sequence += 1
            self._latest = (self._sequence, result.frame.image, marks)
            self._lock.notify_all()

    def jpeg(self, after: int) -> tuple[int, bytes] | None:
        """The newest annotated frame later than sequence ``after`` as (sequence, JPEG), waiting up to
        ``WAIT_FRAME_S`` for one; None if none came. Each frame is encoded once, whoever asks."""
        self._watched_until = time.monotonic() + WATCH_GRACE_S
        with self._lock:
            if not self._lock.wait_for(lambda: self._latest is not None and self._latest[0] > after, WAIT_FRAME_S):
                return None
            sequence, image, marks = self._latest
            if self._encoded is not None and self._encoded[0] == sequence:
                return self._encoded
        ok, data = cv2.imencode(".jpg", draw_marks(image.copy(), marks), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return None
        with self._lock:
            self._encoded = (sequence, data.tobytes())
            self.encodes += 1
            return self._encoded

    def status(self) -> dict:
        """The latest stats and the last events, newest first."""
        with self._lock:
            events = list(self.events)[::-1]
        return {"stats": self.pipeline.last_stats, "events": events}


class LiveView:
    """The HTTP server and a ``CameraView`` per pipeline; ``start()`` listens, ``close()`` stops."""

    def __init__(self, config: PreviewConfig, pipelines: list[CameraPipeline]):
        self.config = config
        self.cameras = {pipeline.camera.name: CameraView(pipeline) for pipeline in pipelines}
        for pipeline in pipelines:
            pipeline.observers.append(self.cameras[pipeline.camera.name].observe)
        self.closing = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        address, port = self.config.address, self.config.port
        if not is_loopback(address):
            log.warning(
                "edge.preview.address %s: the live view, which shows faces, is reachable from other "
                "machines; use 127.0.0.1 (and an SSH tunnel) unless that is what you want",
                address,
            )
        try:
            self.server = PreviewServer((address, port), handler_for(self))
        except OSError as exc:
            raise listen_error("edge.preview", address, port, exc) from None
        threading.Thread(target=self.server.serve_forever, name="preview", daemon=True).start()
        log.info("live view on http://%s:%d/", f"[{address}]" if ":" in address else address, self.port)

    @property
    def port(self) -> int | None:
        """The port listened on (the configured one, or the one picked for port 0)."""
        return self.server.server_address[1] if self.server else None

    def status(self) -> dict:
        return {"cameras": {name: camera.status() for name, camera in self.cameras.items()}}

    def page(self) -> str:
        sections = "".join(CAMERA_SECTION.format(name=html.escape(name)) for name in self.cameras)
        return PAGE.replace("{sections}", sections)

    def close(self) -> None:
        self.closing.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True  # a stream still open at shutdown never holds the daemon up

    def __init__(self, address: tuple[str, int], handler: type) -> None:
        if ":" in address[0]:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


def handler_for(view: LiveView) -> type:
    class Handler(PreviewHandler):
        live_view = view

    return Handler


class PreviewHandler(BaseHTTPRequestHandler):
    live_view: LiveView
    server_version = "emotion-edge-preview"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if path == "/":
            self._send("text/html; charset=utf-8", self.live_view.page().encode())
        elif path == "/status.json":
            self._send("application/json", json.dumps(self.live_view.status()).encode())
        elif (match := CAMERA_PATH.match(path)) and match.group(1) in self.live_view.cameras:
            camera = self.live_view.cameras[match.group(1)]
            self._stream(camera) if match.group(2) == "stream.mjpg" else self._snapshot(camera)
        else:
            self.send_error(404)

    def _send(self, content_type: str, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _snapshot(self, camera: CameraView) -> None:
        frame = camera.jpeg(after=0)
        if frame is None:
            self.send_error(503, "no frame from this camera yet")
        else:
            self._send("image/jpeg", frame[1])

    def _stream(self, camera: CameraView) -> None:
        """multipart/x-mixed-replace JPEGs at ``edge.preview.fps`` at most, until the browser goes away."""
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        interval, sequence = 1 / self.live_view.config.fps, 0
        closing = self.live_view.closing
        try:
            while not closing.is_set():
                started = time.monotonic()
                frame = camera.jpeg(sequence)
                if frame is None:
                    continue
                sequence, data = frame
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
                closing.wait(max(0.0, interval - (time.monotonic() - started)))
        except (BrokenPipeError, ConnectionResetError):
            return  # the browser closed the page

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)


@contextmanager
def live_view(config: PreviewConfig, pipelines: list[CameraPipeline]):
    """The live view around a daemon run when ``edge.preview.enabled``; otherwise nothing at all: no
    observer, no thread, no socket."""
    if not config.enabled:
        yield None
        return
    view = LiveView(config, pipelines)
    view.start()
    try:
        yield view
    finally:
        view.close()


CAMERA_SECTION = """
<section class="camera" data-camera="{name}">
  <h2>{name}</h2>
  <div class="row">
    <img src="/cameras/{name}/stream.mjpg" alt="camera {name}, annotated">
    <div class="side">
      <table class="stats"><tbody><tr><td>waiting for the first stats&hellip;</td></tr></tbody></table>
      <h3>last events</h3>
      <ol class="events"></ol>
    </div>
  </div>
</section>"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emotion-edge live view</title>
<style>
body { margin: 0; font: 14px/1.35 system-ui, sans-serif; background: #f4f4f4; color: #222; }
header { background: #263238; color: #fff; padding: 10px 16px; font-size: 16px; }
.camera { padding: 4px 16px 16px; }
h2 { font-size: 16px; margin: 8px 0; } h3 { font-size: 13px; margin: 12px 0 4px; }
.row { display: flex; gap: 16px; align-items: flex-start; }
img { display: block; background: #000; }
.side { min-width: 300px; font-size: 12px; }
table { border-collapse: collapse; } td { padding: 1px 8px 1px 0; }
ol { margin: 0; padding-left: 18px; }
</style></head>
<body>
<header>emotion-edge live view &middot; local only &middot; nothing here is recorded</header>
{sections}
<script>
function statsRows(stats) {
  if (!stats) return "<tr><td>waiting for the first stats&hellip;</td></tr>";
  const rows = [["fps", stats.fps], ["faces", stats.faces], ["frames", stats.frames], ["events", stats.events],
                ["drops", stats.drops], ["skipped", stats.skipped]];
  for (const [stage, ms] of Object.entries(stats.latency_ms)) rows.push([stage + " (ms)", ms]);
  return rows.map(([k, v]) => "<tr><td>" + k + "</td><td>" + v + "</td></tr>").join("");
}
function eventItem(e) {
  const time = e.ts.slice(11, 19);
  return "<li>" + time + " #" + e.face_id + " " + e.emotion + " " + e.confidence.toFixed(2) + " (" + e.reason + ")</li>";
}
async function refresh() {
  try {
    const status = await (await fetch("/status.json", {cache: "no-store"})).json();
    for (const section of document.querySelectorAll(".camera")) {
      const camera = status.cameras[section.dataset.camera];
      section.querySelector(".stats tbody").innerHTML = statsRows(camera.stats);
      section.querySelector(".events").innerHTML = camera.events.map(eventItem).join("");
    }
  } catch (error) { /* the daemon is restarting: try again */ }
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
"""
