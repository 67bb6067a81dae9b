"""The model card's architecture phrase names only fields the architecture has."""

from trainer.model_card import describe

MOBILENET = {"name": "MobileNetV2", "architecture": "mobilenet_v2", "alpha": 0.5, "input_size": 48,
             "stem_stride": 1, "last_channels": 1024, "flip_average": True}


def test_mobilenet_card_names_stem_and_last_layer():
    assert describe(MOBILENET) == ("MobileNetV2 (width 0.5, 48x48 gray input, stem stride 1, last 1x1 conv 1024 "
                                   "channels, mirror-image averaging folded in)")


def test_vgg_card_leaves_out_mobilenet_fields():
    vgg = {**MOBILENET, "name": "VGG-style CNN", "architecture": "vgg", "flip_average": False}
    assert describe(vgg) == "VGG-style CNN (width 0.5, 48x48 gray input)"
