"""Experiment entry points (train, summarize, bench) and their configs."""

import os

# TensorFlow's C++ log on a CPU-only machine ends with an error line about cuInit
# (no GPU driver) on every run; level 3 silences it, unless the user chose a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# oneDNN's CPU kernels are not set here: TensorFlow reads TF_ENABLE_ONEDNN_OPTS once,
# when it is imported, and on this project's AVX2 machines they train the sequence
# models faster and the plain CTR models slower than Eigen's (README "Throughput").
# The Makefile's sequence targets turn them on (ONEDNN_TARGETS); every run records
# the setting ("onednn_opts" in results.json).
