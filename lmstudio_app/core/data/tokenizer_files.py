"""Which tokenizer a folder holds, and loading it with the backend its file needs.

A data folder or a run trained here holds tokenizer.model (SentencePiece); a run imported from
Hugging Face holds tokenizer.json (the `tokenizers` library). Loading dispatches on the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError
from .layout import HF_TOKENIZER, TOKENIZER, TOKENIZER_FILES
from .tokenizer_base import BaseTokenizer


def find_tokenizer(folder: str | os.PathLike[str]) -> Path | None:
    """The tokenizer file of a run or data folder (or the file itself), None if it has none."""
    folder = Path(folder)
    if folder.is_file() and folder.name.endswith((".model", ".json")):
        return folder
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_tokenizer(path: str | os.PathLike[str], field: str | None = None) -> BaseTokenizer:
    """The tokenizer of a folder (or a tokenizer file), with the backend its file needs.

    Raises UserError (naming `field`, the setting that gave the folder) when there is none or
    it cannot be read.
    """
    found = find_tokenizer(path)
    if found is None:
        raise UserError(f"{path}: no {TOKENIZER} or {HF_TOKENIZER} here; name a run folder or a "
                        "prepared data folder.", field=field)
    if found.name.endswith(".json"):
        from .hf_tokenizer import HFTokenizer

        return HFTokenizer.load(found)
    from .tokenizer import Tokenizer

    return Tokenizer.load(found)
