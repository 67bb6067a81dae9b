"""A compact MobileNetV2 for small grayscale face crops, in tf-keras (Keras 2, which QAT requires).

Why not ``tf_keras.applications.MobileNetV2``: its stride-2 stem throws away half of a 48x48 face before
the first block, its BatchNorm momentum (0.999) leaves validation at chance for many epochs when trained
from scratch, and it expects three colour channels. Same blocks, adapted: configurable stem stride,
momentum 0.9, one gray channel, and pixel normalisation folded in so the model takes raw 0..255 pixels.
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras
from tf_keras import layers

from trainer.config import ModelConfig

# (expansion, output channels at alpha 1, repeats, first stride) — the MobileNetV2 paper's table 2.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
TEACHER_STAGES = (64, 128, 256, 512)  # channels at alpha 1 of the teachers' four stages (VGG and ResNet alike)


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of 8, as MobileNetV2 does, never losing more than 10%."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def conv_bn(x, filters: int, kernel: int, stride: int, momentum: float, activate: bool = True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=momentum)(x)
    return layers.ReLU(6.0)(x) if activate else x


def inverted_residual(x, expansion: int, filters: int, stride: int, momentum: float):
    """Expand (1x1), filter (3x3 depthwise), project (1x1, linear); a skip connection when shapes match."""
    inputs = x
    if expansion != 1:
        x = conv_bn(x, x.shape[-1] * expansion, 1, 1, momentum)
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=momentum)(x)
    x = layers.ReLU(6.0)(x)
    x = conv_bn(x, filters, 1, 1, momentum, activate=False)
    if stride == 1 and inputs.shape[-1] == filters:
        x = layers.Add()([inputs, x])
    return x


def raw_pixels(settings: ModelConfig):
    """The model's input (raw gray pixels 0..255) and the same scaled to -1..1: normalisation is part of every
    model, so a caller only resizes and quantizes."""
    inputs = keras.Input((settings.input_size, settings.input_size, 1), name="pixels")
    return inputs, layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(inputs)


def classifier(inputs, features, settings: ModelConfig, num_classes: int, name: str) -> keras.Model:
    """Global average pool, dropout and a softmax layer on the final feature map: the head every model shares
    (``with_flip_average`` relies on it starting at the pool)."""
    x = layers.GlobalAveragePooling2D()(features)
    x = layers.Dropout(settings.dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name=f"{name}_{settings.input_size}")


def build_model(settings: ModelConfig, num_classes: int) -> keras.Model:
    """Raw gray pixels (0..255, shape SxSx1) in, class probabilities out."""
    builders = {"mobilenet_v2": build_mobilenet_v2, "vgg": build_vgg, "resnet": build_resnet}
    return builders[settings.architecture](settings, num_classes)


def build_mobilenet_v2(settings: ModelConfig, num_classes: int) -> keras.Model:
    momentum = settings.bn_momentum
    inputs, x = raw_pixels(settings)
    x = conv_bn(x, make_divisible(32 * settings.alpha), 3, settings.stem_stride, momentum)
    for expansion, channels, repeats, stride in BLOCKS:
        for index in range(repeats):
            filters = make_divisible(channels * settings.alpha)
            x = inverted_residual(x, expansion, filters, stride if index == 0 else 1, momentum)
    x = conv_bn(x, settings.last_channels, 1, 1, momentum)
    return classifier(inputs, x, settings, num_classes, f"mobilenetv2_a{settings.alpha:g}")


def build_vgg(settings: ModelConfig, num_classes: int) -> keras.Model:
    """Four stages of two 3x3 convolutions (64-512 channels at alpha 1), max pooling between them.

    A teacher, not a shipped model: several times the student's weights and a different family, so its
    soft labels carry what the student does not already know (experiments/RESULTS.md, distillation)."""
    momentum = settings.bn_momentum
    inputs, x = raw_pixels(settings)
    for stage, channels in enumerate(TEACHER_STAGES):
        if stage:
            x = layers.MaxPooling2D()(x)
        for _ in range(2):
            x = conv_bn(x, make_divisible(channels * settings.alpha), 3, 1, momentum)
    return classifier(inputs, x, settings, num_classes, f"vgg_a{settings.alpha:g}")


def basic_block(x, filters: int, stride: int, momentum: float):
    """ResNet's basic block: two 3x3 convolutions added to the input (projected by a 1x1 where shapes change)."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, momentum, activate=False)
    x = conv_bn(x, filters, 3, stride, momentum)
    x = conv_bn(x, filters, 3, 1, momentum, activate=False)
    return layers.ReLU(6.0)(layers.Add()([shortcut, x]))


def build_resnet(settings: ModelConfig, num_classes: int) -> keras.Model:
    """ResNet-18's layout for a 48x48 face: a 3x3 stem at full resolution (no 7x7 stride-2 stem and max pool,
    which would leave 12x12 of a 48x48 face), then four stages of two basic blocks (64-512 channels at
    alpha 1), each stage after the first halving the resolution.

    A teacher, not a shipped model: a third family beside the VGG teacher and the MobileNetV2 student, whose
    skip connections let it go twice as deep as the VGG, so its mistakes differ from both."""
    momentum = settings.bn_momentum
    inputs, x = raw_pixels(settings)
    x = conv_bn(x, make_divisible(TEACHER_STAGES[0] * settings.alpha), 3, 1, momentum)
    for stage, channels in enumerate(TEACHER_STAGES):
        for index in range(2):
            x = basic_block(x, make_divisible(channels * settings.alpha), 2 if stage and not index else 1, momentum)
    return classifier(inputs, x, settings, num_classes, f"resnet_a{settings.alpha:g}")


def batch_one(model: keras.Model) -> keras.Model:
    """The same model with a static batch of 1, as the Edge TPU compiler requires."""
    pixels = keras.Input(model.input_shape[1:], batch_size=1, name="pixels")
    return keras.Model(pixels, model(pixels), name=model.name)


def mirror_width(height: int, width: int) -> keras.Model:
    """A horizontal flip of a (1, height, width, 1) face as ops the Edge TPU runs: a fixed 1 x width
    convolution whose output channel j takes input column width-1-j, then a reshape back. Every tensor keeps
    batch 1 and at most three dimensions above 1 (the compiler's rule); ``tf.reverse`` would become
    REVERSE_V2, which it does not run, and a matrix product over rows gives a 2-D FULLY_CONNECTED output,
    which it does not map either."""
    flip = keras.layers.Conv2D(width, (1, width), use_bias=False, trainable=False, name="mirror")
    flip.build((None, height, width, 1))
    flip.set_weights([np.eye(width, dtype="float32")[::-1].reshape(1, width, 1, width)])
    pixels = keras.Input((height, width, 1), batch_size=1)
    return keras.Model(pixels, layers.Reshape((height, width, 1))(flip(pixels)), name="mirror_width")


def unwrapped(layer: layers.Layer) -> layers.Layer:
    """The Keras layer inside a QAT wrapper (tfmot's ``QuantizeWrapper`` keeps it as ``.layer``)."""
    return getattr(layer, "layer", layer)


def with_flip_average(model: keras.Model) -> keras.Model:
    """The model's scores averaged over the face and its mirror image, folded into one batch-1 graph.

    The backbone runs on the face and on its mirror image, each a batch of one (the Edge TPU maps only
    tensors whose outer dimensions are 1; the one set of weights serves both calls). Their final feature
    maps are laid one above the other (a concatenation along the height) so the model's own global average
    pool averages both faces' features at once. The classifier layer is linear, so that is the mean of the
    two faces' logits, then one softmax. Averaging there rather than after the softmax keeps the whole int8
    graph in one XNNPACK partition (a quantized SOFTMAX in the middle of the graph splits it in two). Works
    for the float and the QAT model alike; the only weights added are the fixed mirror kernel.
    """
    height, width, _ = model.input_shape[1:]
    pooling = next(
        index for index, layer in enumerate(model.layers) if isinstance(unwrapped(layer), layers.GlobalAveragePooling2D)
    )
    backbone = keras.Model(model.inputs, model.layers[pooling].input, name=f"{model.name}_features")
    pixels = keras.Input((height, width, 1), batch_size=1, name="pixels")
    mirrored = mirror_width(height, width)(pixels)
    x = layers.Concatenate(axis=1, name="stack_pair")([backbone(pixels), backbone(mirrored)])
    for layer in model.layers[pooling:]:
        x = layer(x)
    return keras.Model(pixels, x, name=f"{model.name}_flipavg")
