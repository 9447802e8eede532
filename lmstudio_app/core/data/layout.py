"""File names of a prepared data folder (and of the tokenizer file every folder shares).

A data folder made by prepare holds tokenizer.model (SentencePiece), tokens.h5 (the HDF5 token
store) and prepare.json (what was prepared, from what, and the figures). A run folder keeps its
tokenizer under the same name, so any folder with a tokenizer can lend it. A run imported from
Hugging Face keeps its `tokenizers` file instead, as tokenizer.json.
"""

from __future__ import annotations

TOKENIZER = "tokenizer.model"
HF_TOKENIZER = "tokenizer.json"
TOKENIZER_FILES = (TOKENIZER, HF_TOKENIZER)
STORE = "tokens.h5"
SUMMARY = "prepare.json"
LOCK = "prepare.lock"  # held while a prepare writes the folder
