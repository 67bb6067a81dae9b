"""The shipped int8 file itself: within the issue's size budget and within the Edge TPU compiler's rules."""

import json

from tests.support import MODELS
from trainer.export import EDGETPU_OPS
from trainer.tflite import edgetpu_shape_problems, tflite_ops

SHIPPED = MODELS / "emotion_int8.tflite"


def test_the_shipped_file_fits_one_mebibyte():
    assert SHIPPED.stat().st_size <= 1024 * 1024


def test_the_shipped_file_keeps_to_the_edge_tpu_rules_its_contract_lists():
    ops = tflite_ops(SHIPPED)
    assert set(ops) <= EDGETPU_OPS and edgetpu_shape_problems(SHIPPED) == []
    assert json.loads(SHIPPED.with_suffix(".json").read_text())["operators"] == ops
