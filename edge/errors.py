"""The one exception type that reaches the user as a single line, never as a traceback."""


class UserError(Exception):
    """A problem the user can fix (a bad file, key, address or device); the CLI prints it and exits non-zero."""

    exit_code = 2


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
