"""Trainer: dataset audit, MobileNetV2 training, quantization-aware fine-tuning, int8 export, evaluation."""
