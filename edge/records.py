"""Result records as a file a person can open: JSON lines or CSV, to a file or to stdout.

The event stream (edge.events) is for machines that follow a camera live; a record file is for a person
who ran ``edge`` over a folder of photos or a video and wants one row per face to read, sort or chart.
Both formats come from the same records, so a caller builds each record once:

    with RecordWriter.open(path_or_None, "csv", ["file", "face", "emotion", "scores.happy"]) as writer:
        writer.write({"file": "a.jpg", "face": 0, "emotion": "happy", "scores": {"happy": 0.9}})

Interface (stable; other modules build on it):

* ``RecordWriter.open(path, format, columns)``: ``path`` None writes to stdout; a file is created or
  replaced, and a path that cannot be written is a one-line ``UserError`` naming it.
  ``RecordWriter(stream, format, columns)`` writes to an open text stream the caller owns.
* ``format``: ``"jsonl"`` (one JSON object per line, nested values kept as they are, keys in the order
  the record has them) or ``"csv"`` (a header row of ``columns``, then one row per record).
* ``columns``: the CSV header, fixed when the writer opens. A nested dict is flattened with dots
  (``{"scores": {"happy": 0.9}}`` fills column ``scores.happy``); a list or other value fills its column
  as JSON text; a column the record lacks (or holds None) is an empty cell. A record key that is no
  column raises ``ValueError``: a CSV that silently drops a field would be a silent loss. JSON lines
  ignore ``columns``.
* ``write(record)`` writes one record and flushes, so a reader following the output (``| jq``, a
  pipe) sees each one when it is made; ``close()`` closes a file it opened (never stdout); the writer is
  also a context manager.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TextIO

from common.errors import UserError

FORMATS = ("jsonl", "csv")
Format = Literal["jsonl", "csv"]


def flatten(record: dict, prefix: str = "") -> dict:
    """Nested dicts as dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def csv_cell(value: object) -> object:
    """What a spreadsheet should see: numbers and text as they are, nothing as an empty cell, a list as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return value


class RecordWriter:
    def __init__(self, stream: TextIO, format: Format, columns: Sequence[str], owns_stream: bool = False):
        if format not in FORMATS:
            raise ValueError(f"record format {format!r}: not one of {', '.join(FORMATS)}")
        self.stream = stream
        self.format = format
        self.columns = list(columns)
        self._owns_stream = owns_stream
        self._csv = None
        if format == "csv":
            self._csv = csv.DictWriter(
                stream, fieldnames=self.columns, restval="", extrasaction="raise", lineterminator="\n"
            )
            self._csv.writeheader()
            stream.flush()

    @classmethod
    def open(cls, path: Path | None, format: Format, columns: Sequence[str]) -> RecordWriter:
        """A writer on ``path`` (created or replaced), or on stdout when ``path`` is None."""
        if path is None:
            return cls(sys.stdout, format, columns)
        try:
            stream = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UserError(f"{path}: cannot write the records there ({exc.strerror or exc})") from None
        return cls(stream, format, columns, owns_stream=True)

    def write(self, record: dict) -> None:
        if self._csv is not None:
            flat = flatten(record)
            unknown = [key for key in flat if key not in self._csv.fieldnames]
            if unknown:
                raise ValueError(f"record field(s) {', '.join(unknown)} have no CSV column")
            self._csv.writerow({key: csv_cell(value) for key, value in flat.items()})
        else:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._owns_stream:
            self.stream.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
