"""Trainer: dataset audit, MobileNetV2 training, quantization-aware fine-tuning, int8 export, evaluation.

Importing any part of it sets TensorFlow's environment (``trainer.tf_runtime``: Keras 2, tf-keras, which
quantization-aware training requires, and quieter logging); it must happen before TensorFlow is first imported,
so it happens here, the one module every trainer import passes through. TensorFlow itself is not imported.
"""

from trainer.tf_runtime import set_environment

set_environment()
