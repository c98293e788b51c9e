"""Process-wide setup shared by the command-line tools."""

from __future__ import annotations

import os


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
