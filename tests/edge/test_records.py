"""The record writer: the same records as JSON lines and as CSV a spreadsheet opens, to a file or stdout."""

import csv
import json

import pytest

from common.errors import UserError
from edge.records import RecordWriter

COLUMNS = ["file", "face", "emotion", "scores.happy", "scores.sad", "bbox.x", "error"]
RECORDS = [
    {"file": "a.jpg", "face": 0, "emotion": "happy", "scores": {"happy": 0.9, "sad": 0.1}, "bbox": {"x": 12}},
    {"file": 'b, "quoted".jpg', "face": None, "error": "unreadable image"},
]


def test_csv_has_the_fixed_header_flattened_scores_and_empty_cells(tmp_path):
    with RecordWriter.open(tmp_path / "out.csv", "csv", COLUMNS) as writer:
        for record in RECORDS:
            writer.write(record)
    with open(tmp_path / "out.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == COLUMNS
    assert rows[0] == {
        "file": "a.jpg",
        "face": "0",
        "emotion": "happy",
        "scores.happy": "0.9",
        "scores.sad": "0.1",
        "bbox.x": "12",
        "error": "",
    }
    assert rows[1]["file"] == 'b, "quoted".jpg' and rows[1]["error"] == "unreadable image" and rows[1]["face"] == ""


def test_jsonl_keeps_records_as_they_are_on_stdout(capsys):
    writer = RecordWriter.open(None, "jsonl", COLUMNS)
    for record in RECORDS:
        writer.write(record)
    writer.close()  # never closes stdout
    print("still open")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines[:2]] == RECORDS and lines[2] == "still open"


def test_a_field_without_a_column_is_an_error_not_a_silent_loss(tmp_path):
    with RecordWriter.open(tmp_path / "out.csv", "csv", ["file"]) as writer:
        with pytest.raises(ValueError, match="scores.happy have no CSV column"):
            writer.write({"file": "a.jpg", "scores": {"happy": 1.0}})


def test_an_unwritable_path_is_one_line_naming_it(tmp_path):
    with pytest.raises(UserError, match=f"{tmp_path}/no/such/out.csv: cannot write the records there"):
        RecordWriter.open(tmp_path / "no" / "such" / "out.csv", "jsonl", COLUMNS)
