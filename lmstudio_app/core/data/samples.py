"""The sample corpus shipped with the app (two of Jane Austen's novels, public domain)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from ..errors import UserError


def sample_corpus() -> Path:
    """The bundled sample corpus folder (text files plus a README naming their source).

    Found with importlib.resources, so it works from a wheel or a bundled app whatever the
    current folder. A source checkout not installed with the `lmstudio_app.resources` mapping
    falls back to the repository's resources/ folder beside the package.
    """
    try:
        folder = Path(str(importlib.resources.files("lmstudio_app.resources") / "corpus"))
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "resources" / "corpus"
    if not folder.is_dir():
        raise UserError(f"{folder}: the sample corpus is missing; reinstall the app.")
    return folder


def sample_corpus_files() -> list[Path]:
    """The text files of the sample corpus, sorted."""
    return sorted(sample_corpus().glob("*.txt"))
