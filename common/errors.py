"""The one exception type that reaches the user as a single line, never as a traceback."""

import errno
import socket


class UserError(Exception):
    """A problem the user can fix (a bad file, key, address or device); the CLI prints it and exits non-zero."""

    exit_code = 2


class Unavailable(UserError):
    """A device or resource missing or busy right now (an Edge TPU not yet enumerated at boot, a port still
    held, a full disk): exit 69, EX_UNAVAILABLE, which the systemd unit restarts. A configuration error
    (exit 2) is not restarted: no restart cures it."""

    exit_code = 69


def listen_error(key: str, address: str, port: int, exc: OSError) -> UserError:
    """Why a server cannot listen, as the error to raise: a port still held or an address not up yet at boot
    may clear (``Unavailable``, exit 69, restarted); a name that does not resolve or a port below 1024 for an
    unprivileged service will not (``UserError``, exit 2)."""
    transient = exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, socket.EAI_AGAIN)  # EAI_AGAIN: DNS not up
    return (Unavailable if transient else UserError)(f"{key}: cannot serve on {address}:{port} ({exc.strerror or exc})")


def one_line(exc: BaseException) -> str:
    """An exception as one log line: the last line of its message (OpenCV's run to several), prefixed by
    its type unless it is a ``UserError``, whose message is already written for the user."""
    lines = str(exc).strip().splitlines()
    text = lines[-1] if lines else ""
    if isinstance(exc, UserError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def exit_on_user_error(prog: str, command, *args) -> int:
    """Run a CLI command; a ``UserError`` becomes one line on stderr and its exit code, not a traceback."""
    import sys

    try:
        return command(*args) or 0
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
