"""Experiment entry points (train, summarize, bench) and their configs."""

import os

# TensorFlow's C++ log on a CPU-only machine ends with an error line about cuInit
# (no GPU driver) on every run; level 3 silences it, unless the user chose a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
