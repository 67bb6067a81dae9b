"""Typed settings of the trainer: the ``trainer:`` section of ``config.yaml``.

Every CLI option of ``trainer`` maps to a key here; the command line overrides the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from common.configfile import Strict, load_section, resolve_path
from edge.config import resolve_peer
from edge.preprocess import Preprocess

DEFAULT_CLASSES = ["happy", "neutral", "sad", "surprise"]
SPLITS = ("train", "validation", "test")
ExclusionReason = Literal[
    "corrupt", "wrong_format", "duplicate", "leak", "blank", "extreme_brightness", "no_face", "label_issue"
]


class PathFields(Strict):
    """Settings blocks whose Path fields are relative to the config file's folder."""

    @field_validator("*", mode="after")
    @classmethod
    def _resolve(cls, value, info: ValidationInfo):
        if isinstance(value, list):
            return [resolve_path(item, info) if isinstance(item, Path) else item for item in value]
        return resolve_path(value, info) if isinstance(value, Path) else value


class EdaConfig(PathFields):
    out_dir: Path = Path("reports/eda")
    image_size: int = Field(48, ge=8, description="expected width and height of every image")
    near_duplicate_bits: int = Field(4, ge=0, le=32, description="max Hamming distance of 64-bit perceptual hashes")
    blank_std: float = Field(6.0, ge=0, description="pixel standard deviation below which an image is blank")
    dark_mean: float = Field(20.0, ge=0, le=255)
    bright_mean: float = Field(235.0, ge=0, le=255)
    min_face_score: float = Field(
        0.45,
        ge=-1,
        le=1,
        description="HOG cosine similarity to the mean face below which an image likely holds no face",
    )
    label_noise: bool = True
    folds: int = Field(5, ge=2)
    match_max_distance: float = Field(
        50.0,
        gt=0,
        description="fer2013-4class-match.csv pairs closer than this (mean squared difference of 12x12 "
        "thumbnails) count as the same face in the FER2013-vs-FER+ label comparison",
    )
    paired_copy: Path | None = Field(
        None,
        description="the folder the match file's fer2013_path names, for the pixel statistics of both copies; "
        "None: the data folder's sibling fer2013-4class",
    )
    paired_sample: int = Field(2000, ge=1, description="matched faces read from each copy for those statistics")
    exclude: list[ExclusionReason] = Field(
        default_factory=lambda: ["corrupt", "duplicate", "leak", "blank"],
        description="which findings remove a file from the cleaned manifest (a wrong_format image, colour or "
        "another size, is reported but kept: training converts and resizes it)",
    )


class ModelConfig(Strict):
    """A compact MobileNetV2 adapted to small face crops (the shipped model), or a plain VGG-style or
    ResNet-style CNN (float teachers to distil from: larger and of other families, so their mistakes differ)."""

    architecture: Literal["mobilenet_v2", "vgg", "resnet"] = "mobilenet_v2"
    input_size: int = Field(48, ge=32, le=224)
    alpha: float = Field(0.5, gt=0, le=2.0, description="width multiplier (vgg, resnet: 0.5 = 32-256 channels)")
    stem_stride: Literal[1, 2] = Field(1, description="mobilenet_v2 only")
    last_channels: int = Field(1024, ge=64, description="mobilenet_v2 only")
    dropout: float = Field(0.2, ge=0, lt=1)
    bn_momentum: float = Field(0.9, gt=0, lt=1)
    preprocess: Preprocess = Field(
        "none",
        description="contrast normalisation of the gray face crop before the resize (edge/preprocess.py); "
        "written into the model contract, so the daemon feeds the model what it was trained on",
    )


class TrainConfig(PathFields):
    out_dir: Path = Path("runs/default")
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(5e-5, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    augment: float = Field(1.0, ge=0, le=2, description="augmentation strength; 0 = mirror only")
    camera_degradation: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of training faces passed through a real camera's degradations (blur, "
        "downscaling, low contrast, gamma, noise, JPEG; trainer/augment.py)",
    )
    targets: Literal["labels", "votes"] = Field(
        "labels",
        description="labels: the class folder (one-hot); votes: the share of each class in the data "
        "folder's votes.csv (FER+'s ten annotators, trainer/votes.py)",
    )
    mixup: float = Field(0.0, ge=0, description="Beta(a, a) mixup strength; 0 disables")
    class_weighting: bool = Field(
        True,
        description="inverse-frequency weight per sample, by the class its target favours "
        "(Keras takes the argmax of the target: under distillation or mixup that is the "
        "label unless the teachers or the mix lean clearly to another class)",
    )
    patience: int = Field(10, ge=1, description="epochs without a better validation macro-F1 before stopping")
    seed: int = 42
    bn_recalibration: int = Field(
        4096,
        ge=0,
        description="unaugmented training images whose statistics replace BatchNorm's running ones before each validation; 0 keeps Keras' running averages",
    )
    init_weights: Path | None = Field(
        None, description="float weights to start from (a warm restart of an earlier run)"
    )
    average_last: int = Field(
        0,
        ge=0,
        description="stochastic weight averaging: the mean weights of the schedule's last N epochs (those reached, if stopped early) are one more selection candidate; 0 disables",
    )
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap for smoke runs")

    @model_validator(mode="after")
    def _average_within_schedule(self) -> TrainConfig:
        if self.average_last > self.epochs:
            raise ValueError(f"average_last {self.average_last} is more than the {self.epochs} epochs")
        return self


class QatConfig(Strict):
    epochs: int = Field(3, ge=0)
    learning_rate: float = Field(
        1e-5,
        gt=0,
        description="peak of the QAT schedule; small, because QAT starts from float weights already at their "
        "optimum and larger steps leave it (experiments/qat_sweep.py compares step sizes on validation)",
    )


class DistillConfig(PathFields):
    """Knowledge distillation from finished runs of ``trainer train`` (their selected float weights)."""

    teachers: list[Path] = Field(
        default_factory=list,
        description="run folders whose float models, averaged, supply soft labels; empty: labels alone",
    )
    weight: float = Field(0.7, ge=0, le=1, description="share of the teachers' soft labels in each training target")
    temperature: float = Field(1.0, gt=0, description="softens (>1) or sharpens (<1) the teachers' probabilities")
    flip_average: bool = Field(
        False, description="teachers score each image and its mirror image (twice the teacher cost)"
    )


class Benchmark(PathFields):
    """Another dataset of the same class folders whose test split the export also scores, for the card."""

    data_dir: Path
    note: str = Field("", description="why its figures differ from the main dataset's, printed under them in the card")


class ExportConfig(PathFields):
    out: Path = Path("edge/models/emotion_int8.tflite")
    benchmarks: list[Benchmark] = Field(
        default_factory=list, description="datasets whose test split the card also reports"
    )
    calibration_samples: int = Field(300, ge=1)
    flip_average: bool = Field(True, description="fold mirror-image averaging into the exported model")
    max_int8_drop: float = Field(0.015, ge=0, description="max accuracy the int8 file may trail its float model by")


class EvaluateConfig(PathFields):
    split: str = "test"
    out_dir: Path = Path("reports/evaluation")


class RobustnessConfig(PathFields):
    """``trainer robustness``: models scored on a split under the camera-degradation benchmark."""

    models: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["edge/models/emotion_int8.tflite", "edge/models/emotion_float.tflite"],
        min_length=1,
        description="TFLite models as PATH[:range=-1-1,labels=a,b,...] (edge bench's --peer syntax); the MODEL arguments replace them",
    )
    split: str = Field("test", min_length=1)
    out_dir: Path = Path("reports/robustness")

    @field_validator("models")
    @classmethod
    def _model_paths(cls, models: list[str], info: ValidationInfo) -> list[str]:
        """A model file, like every path in the file, is relative to the config file's folder."""
        return [resolve_peer(text, lambda path: resolve_path(path, info)) for text in models]


class TrainerConfig(PathFields):
    data_dir: Path = Path("../shared/data/ferplus-4class")
    classes: list[str] = Field(default_factory=lambda: list(DEFAULT_CLASSES), min_length=2)
    manifest: Path | None = Field(None, description="cleaned manifest written by 'trainer eda'; None uses every file")
    eda: EdaConfig = Field(default_factory=EdaConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    qat: QatConfig = Field(default_factory=QatConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    robustness: RobustnessConfig = Field(default_factory=RobustnessConfig)

    @model_validator(mode="after")
    def _distinct_classes(self) -> TrainerConfig:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes must be distinct")
        return self


def load(path: Path | None, overrides: dict | None = None) -> TrainerConfig:
    return load_section(path, "trainer", TrainerConfig, overrides)
