"""Experiment entry points (train, summarize, bench) and their configs."""

import os

# TensorFlow's C++ log on a CPU-only machine ends with an error line about cuInit
# (no GPU driver) on every run; level 3 silences it, unless the user chose a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# oneDNN's kernels (TensorFlow's own option, read once when TensorFlow is imported):
# TensorFlow 2.21 turns them on by itself only on CPUs with AVX-512 VNNI / AMX, not
# on this project's AVX2 machines, where its Eigen batched matmuls run the small
# per-example attention products (DUMN, DMT, SASRec) far below the CPU's rate.
# Measured on AMD EPYC, 2 cores, beside two trainings: DUMN's training step at
# T = 100, batch 1024, 4.37 s with Eigen and 1.56 s with oneDNN; DIN's 0.88 and
# 0.70 s; the weights after five steps equal to the last printed digit and
# identical from run to run (README "Throughput"). TF_ENABLE_ONEDNN_OPTS=0 in
# the environment keeps Eigen; every run records the setting ("onednn_opts").
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
