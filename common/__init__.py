"""What both programs use, so ``edge`` is the device program and nothing else: the one-line user errors and
their exit codes (``errors``), the validated config file (``configfile``), classification scores
(``scores``) and the image types both read (``media``). It imports neither TensorFlow nor LiteRT."""
