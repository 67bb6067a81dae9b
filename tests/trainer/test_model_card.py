"""The model card's architecture phrase names only fields the architecture has."""

from trainer.model_card import describe

MOBILENET = {
    "name": "MobileNetV2",
    "architecture": "mobilenet_v2",
    "alpha": 0.5,
    "input_size": 48,
    "stem_stride": 1,
    "last_channels": 1024,
    "flip_average": True,
}


def test_mobilenet_card_names_stem_and_last_layer():
    assert describe(MOBILENET) == (
        "MobileNetV2 (width 0.5, 48x48 gray input, stem stride 1, last 1x1 conv 1024 "
        "channels, mirror-image averaging folded in)"
    )


def test_vgg_card_leaves_out_mobilenet_fields():
    vgg = {**MOBILENET, "name": "VGG-style CNN", "architecture": "vgg", "flip_average": False}
    assert describe(vgg) == "VGG-style CNN (width 0.5, 48x48 gray input)"


def test_a_candidate_exported_beside_the_shipped_model_gets_its_own_card(tmp_path, monkeypatch):
    """Exporting runs/x to edge/models/candidate_int8.tflite must not replace the shipped model's card."""
    import json

    from tests.support import MODELS
    from trainer.model_card import write_model_card

    contract = json.loads((MODELS / "emotion_int8.json").read_text())
    monkeypatch.chdir(tmp_path)
    stage = tmp_path / "models" / ".candidate_int8.staging"
    stage.mkdir(parents=True)
    card = write_model_card(contract, stage / "candidate_int8.tflite", stage / "candidate_int8_confusion.png")
    assert card.name == "candidate_int8_MODEL_CARD.md"
    text = card.read_text()
    assert text.startswith("# Model card: candidate_int8.tflite")
    assert "`trainer evaluate models/candidate_int8.tflite" in text
    assert "--out models/candidate_int8.tflite` rebuilds" in text  # not the shipped file's path
    shipped = write_model_card(contract, stage / "emotion_int8.tflite", stage / "emotion_int8_confusion.png")
    assert shipped.name == "MODEL_CARD.md" and "--out" not in shipped.read_text()


def test_card_says_which_files_each_figure_is_on():
    """Validation and test figures name their split, count and file set (every file, or a manifest's kept files)."""
    import json
    from pathlib import Path

    from tests.support import MODELS
    from trainer.model_card import render

    contract = json.loads((MODELS / "emotion_int8.json").read_text())
    shown = Path("edge/models/emotion_int8.tflite")
    text = render(contract, shown, "confusion.png")
    n_val, n_test = contract["metrics"]["validation"]["int8"]["n"], contract["metrics"]["test"]["int8"]["n"]
    assert f"{n_test} images of ferplus-4class/test, PrivateTest, every file" in text
    assert f"{n_val} images of ferplus-4class/validation,\nPublicTest, every file" in text
    contract["data"]["manifest"] = "/data/audit/manifest.csv"
    assert render(contract, shown, "confusion.png").count("the files `manifest.csv` keeps") == 2
