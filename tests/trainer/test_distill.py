"""Distillation: the mixed training targets, and a student trained from a teacher run end to end."""

import json

import numpy as np
import pytest
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from tests.synthetic import make_dataset  # noqa: E402
from trainer.cli import main  # noqa: E402
from trainer.config import DistillConfig  # noqa: E402
from trainer.distill import soft_targets  # noqa: E402


def constant_teacher(probs: list[float]) -> keras.Model:
    """A model that answers ``probs`` whatever the image."""
    pixels = keras.Input((8, 8, 1))
    zeros = keras.layers.Dense(len(probs), kernel_initializer="zeros", use_bias=False)(keras.layers.Flatten()(pixels))
    logits = keras.layers.Lambda(lambda z: z + np.log(probs).astype("float32"))(zeros)
    return keras.Model(pixels, keras.layers.Softmax()(logits))


def right_half_teacher() -> keras.Model:
    """Sure of class 0 when the right half of the image is bright, else of class 1."""
    pixels = keras.Input((8, 8, 1))
    right = keras.layers.Lambda(lambda x: tf.reduce_mean(x[:, :, 4:, 0], axis=[1, 2])[:, None])(pixels)
    return keras.Model(pixels, keras.layers.Lambda(lambda r: tf.concat([r, 1 - r, 0 * r, 0 * r], axis=1))(right))


def test_targets_mix_label_and_mean_of_teachers():
    images, labels = np.zeros((2, 8, 8, 1), "float32"), np.eye(4, dtype="float32")[[0, 3]]
    teachers = [constant_teacher([0.7, 0.1, 0.1, 0.1]), constant_teacher([0.1, 0.1, 0.1, 0.7])]
    _, targets = soft_targets(teachers, DistillConfig(weight=0.5))(images, labels)
    np.testing.assert_allclose(targets.numpy(), 0.5 * labels + 0.5 * np.array([0.4, 0.1, 0.1, 0.4]), atol=1e-5)

    half_bright = np.concatenate([np.zeros((2, 8, 4, 1)), np.ones((2, 8, 4, 1))], axis=2).astype("float32")
    for flip_average, expected in ((False, [1, 0, 0, 0]), (True, [0.5, 0.5, 0, 0])):
        config = DistillConfig(weight=1.0, flip_average=flip_average)
        _, targets = soft_targets([right_half_teacher()], config)(half_bright, labels)
        np.testing.assert_allclose(targets.numpy(), [expected] * 2, atol=1e-5)

    _, sharpened = soft_targets(teachers[:1], DistillConfig(weight=1.0, temperature=0.5))(images, labels)
    expected = np.array([0.49, 0.01, 0.01, 0.01]) / 0.52  # p ** (1 / T), normalised
    np.testing.assert_allclose(sharpened.numpy()[0], expected, atol=1e-4)


RUN = """
trainer:
  data_dir: {data}
  model: {{architecture: {architecture}, input_size: {size}, alpha: 0.25, last_channels: 64, dropout: 0.0}}
  train: {{out_dir: {run}, epochs: 3, batch_size: 16, learning_rate: 0.01, label_smoothing: 0.0, augment: 0.0, patience: 3,
          bn_recalibration: 64}}
  qat: {{epochs: 0}}
  distill: {{teachers: [{teachers}], weight: 0.5}}
"""


def write_run(root, name: str, architecture: str, teachers: str = "", size: int = 48):
    path = root / f"{name}.yaml"
    path.write_text(
        RUN.format(data=root / "data", run=root / name, architecture=architecture, size=size, teachers=teachers)
    )
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["vgg", "resnet"])
def test_student_trains_from_a_teacher_of_another_family(architecture, tmp_path, capsys, monkeypatch):
    import trainer.train

    make_dataset(tmp_path / "data", per_class=30)
    assert main(["--config", write_run(tmp_path, "teacher", architecture), "train"]) == 0
    assert json.loads((tmp_path / "teacher/config.json").read_text())["model"]["architecture"] == architecture

    teachers_used = []  # the teacher must reach the input pipeline, not just the run's record

    def spying(teachers, settings):
        teachers_used.append([teacher.name for teacher in teachers])
        return soft_targets(teachers, settings)

    monkeypatch.setattr(trainer.train, "soft_targets", spying)
    student = write_run(tmp_path, "student", "mobilenet_v2")
    assert main(["--config", student, "train", "--teacher", str(tmp_path / "teacher")]) == 0
    assert len(teachers_used) >= 1 and all(len(used) == 1 for used in teachers_used)
    assert json.loads((tmp_path / "student/config.json").read_text())["distill"]["teachers"] == [
        str(tmp_path / "teacher")
    ]
    assert (tmp_path / "student/float/selected.json").exists()

    capsys.readouterr()
    assert main(["--config", write_run(tmp_path, "small", "mobilenet_v2", teachers="teacher", size=32), "train"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        "teacher: distill.teachers entry trained on classes ['happy', 'neutral', 'sad', 'surprise'] at 48 px, "
        "but the config has ['happy', 'neutral', 'sad', 'surprise'] at 32 px" in error
    )
