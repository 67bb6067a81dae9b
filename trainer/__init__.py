"""Trainer: dataset audit, MobileNetV2 training, quantization-aware fine-tuning, int8 export, evaluation.

Importing any part of it selects Keras 2 (tf-keras) for TensorFlow, which quantization-aware training
(tensorflow-model-optimization) requires; it must happen before TensorFlow is first imported, so it lives here,
the one module every trainer import passes through.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
