"""systemd service notifications (sd_notify) without a dependency: readiness, watchdog pings, stopping.

The unit is ``Type=notify`` with ``WatchdogSec=``: systemd considers the daemon started only once it says
``READY=1`` (models loaded, camera threads started), and restarts it when the pings stop, which catches
a wedged main loop or inference that a plain crash-restart would never see (a camera that stops delivering
is the grabber's to reopen: its reads time out). The protocol is one datagram
to the unix socket named by ``$NOTIFY_SOCKET`` (``@name`` is the abstract namespace). Outside systemd
every call is a no-op that returns False, so the same code runs from a terminal.

API::

    ready()          after start-up;  stopping()  when shutting down;  status(text)  free-form status line
    interval = watchdog_interval()   # seconds between pings (half of WatchdogSec), or None: do not ping
    watchdog()       call from the main loop every ``interval``, so a stuck loop stops the pings
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _address(name: str) -> str:
    """Linux spells an abstract socket with a leading NUL; systemd writes it as '@'."""
    return "\0" + name[1:] if name.startswith("@") else name


def notify(message: str) -> bool:
    """Send one notification; True when it was delivered to systemd."""
    name = os.environ.get("NOTIFY_SOCKET")
    if not name:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(name))
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", name, exc)
        return False
    return True


def ready() -> bool:
    return notify("READY=1")


def stopping() -> bool:
    return notify("STOPPING=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings: half of ``WatchdogSec`` as systemd advises, or None when no watchdog
    is set for this process (``$WATCHDOG_PID``, when present, must be ours)."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None
