"""A real RTSP server on loopback for the tests: GStreamer's gst-rtsp-server serving one JPEG on a loop.

Run with the system Python (Debian's python3-gi + gir1.2-gst-rtsp-server-1.0; scripts/test.sh installs
them): ``/usr/bin/python3 rtsp_server.py PORT IMAGE.jpg``; serves ``rtsp://127.0.0.1:PORT/live`` at 15 fps
until killed. Killing and restarting it on the same port is how the tests make a stream die and return.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, image = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( multifilesrc location="{image}" loop=true caps=image/jpeg,framerate=15/1 '
    "! jpegparse ! rtpjpegpay name=pay0 pt=26 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/live", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
