"""The learning-rate range test's defaults (PyTorch Lightning's `Tuner.lr_find`), apart from the
test itself (core/training/lr_find.py) so that the command line's help reads them without
importing PyTorch."""

from __future__ import annotations

MIN_LR = 1e-8  # the sweep's first rate
MAX_LR = 1.0  # its last rate
NUM_TRAINING = 100  # optimizer steps of the sweep
EARLY_STOP_THRESHOLD = 4.0  # stop when the smoothed loss passes this times the best one
BETA = 0.98  # the loss's exponential moving average
SKIP_BEGIN, SKIP_END = 10, 1  # points left out of the suggestion at each end
