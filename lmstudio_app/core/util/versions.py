"""The versions of what a run is made with, recorded in its config.json."""

from __future__ import annotations

import platform

import torch


def versions() -> dict[str, str]:
    """The versions a run was trained with (config.json's "versions"): this package, Python,
    PyTorch, NumPy, SentencePiece, h5py, and CUDA where PyTorch was built with it."""
    import h5py
    import numpy
    import sentencepiece

    from ... import __version__

    out = {
        "lmstudio_app": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sentencepiece": sentencepiece.__version__,
        "h5py": h5py.__version__,
    }
    if torch.version.cuda:
        out["cuda"] = torch.version.cuda
    return out
