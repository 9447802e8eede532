"""A run's tokenizer as GGUF metadata that llama.cpp tokenizes with exactly as the app does.

llama.cpp ships several tokenizer algorithms, chosen by `tokenizer.ggml.model`. Each kind of
tokenizer the app makes or imports goes to the one that computes the same segmentation:

    ours, unigram   "plamo2": a unigram Viterbi search over the pieces' scores with UTF-8
                    byte fallback, as SentencePiece's unigram model with byte_fallback
                    (llama.cpp's "llama" merges pieces greedily by score, a different
                    segmentation; its "t5" Viterbi has no byte fallback). Its pieces are raw
                    text, so "▁" is written as the space it stands for.
    ours, bpe/char  "llama": llama.cpp's SentencePiece tokenizer, which merges the pair whose
                    join scores highest (SentencePiece's BPE), with byte fallback; a char
                    vocabulary has no pair to merge, so each character is its piece.
    imported GPT-2  "gpt2" with pre-tokenizer "gpt-2": byte-level BPE with the file's merges.

The pieces keep their ids; "\\n" is a user-defined token (split out of any text first) and the
special pieces are control tokens, which only llama.cpp's parse_special reads in text.

What differs, and only for unigram (`UNIGRAM_NOTE`): where several orders of the same pieces
score alike (a long run of one repeated character, such as indentation of 20 spaces:
"▁▁▁▁▁" and "▁" in any order), SentencePiece's float32 sums pick an order by rounding and
llama.cpp's integer sums (scores rounded to 1e-4) take the longest piece first. Measured with
a 2,000-piece vocabulary on five Austen novels: 48,584 of 48,599 lines alike, the 15 others
lines indented by 24 spaces. A literal "▁" (U+2581) in text is a space to SentencePiece and
that character to plamo2 (its pieces are raw text).

Anything else (an imported WordPiece, which only BERT runs have, or another `tokenizers`
model) is refused: `UnsupportedTokenizer` says why and what to do.

Reference: llama.cpp src/llama-vocab.cpp (llm_tokenizer_spm, llm_tokenizer_plamo2,
llm_tokenizer_bpe), SentencePiece unigram_model.cc / bpe_model.cc.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..data.chat_template import CHATML_TOKENS
from ..data.hf_tokenizer import HFTokenizer
from ..data.tokenizer import Tokenizer
from ..data.tokenizer_base import BaseTokenizer
from ..errors import UserError
from .spm_convert import SPACE_MARK

# tokenizer.ggml.model for each kind of our SentencePiece tokenizers, and of imported ones.
SPM_TOKENIZERS = {"unigram": "plamo2", "bpe": "llama", "char": "llama"}
IMPORTED_TOKENIZERS = {"byte-level-bpe": "gpt2"}


UNIGRAM_NOTE = ("llama.cpp may order the pieces of a long run of one repeated character (such "
                "as 20 spaces of indentation) otherwise than the app, and reads a literal U+2581 "
                "as that character; other text tokenizes alike.")


class UnsupportedTokenizer(UserError):
    """The run's tokenizer has no exact counterpart in llama.cpp."""


def tokenizer_model(tok: BaseTokenizer) -> str:
    """The `tokenizer.ggml.model` that reproduces `tok`; UnsupportedTokenizer when none does."""
    table = SPM_TOKENIZERS if isinstance(tok, Tokenizer) else IMPORTED_TOKENIZERS
    model = table.get(tok.kind)
    if model is None:
        raise UnsupportedTokenizer(
            f"GGUF: llama.cpp has no tokenizer that segments text as this run's {tok.kind} "
            f"({tok.backend}) tokenizer does, so it would read other tokens than the model was "
            "trained on; export with format hf, or train on data prepared here (unigram, BPE "
            "or char).", field="format", option="hf")
    return model


def _spm_types(gguf: Any, tok: Tokenizer) -> list[Any]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(tok.model_bytes)
    types = []
    for i in range(sp.get_piece_size()):
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        elif sp.id_to_piece(i) in CHATML_TOKENS:  # a chat run's turn markers
            types.append(gguf.TokenType.CONTROL)
        elif i == tok.newline_id:
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    return types


def _spm_vocab(writer: Any, gguf: Any, tok: Tokenizer, model: str) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(tok.model_bytes)
    types = _spm_types(gguf, tok)
    tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    scores = [sp.get_score(i) for i in range(sp.get_piece_size())]
    if model == "plamo2":
        # Raw-text pieces; control and unknown pieces never match text (a non-finite score
        # leaves them out of llama.cpp's search, as SentencePiece leaves them out of its own).
        normal = (gguf.TokenType.NORMAL, gguf.TokenType.USER_DEFINED)
        tokens = [t.replace(SPACE_MARK, " ") if ty in normal else t
                  for t, ty in zip(tokens, types, strict=True)]
        scores = [s if ty in normal or ty == gguf.TokenType.BYTE else -math.inf
                  for s, ty in zip(scores, types, strict=True)]
    writer.add_tokenizer_model(model)
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(False)
    writer.add_remove_extra_whitespaces(False)
    writer.add_bos_token_id(tok.bos_id)
    writer.add_eos_token_id(tok.eos_id)
    writer.add_unk_token_id(tok.unk_id)
    writer.add_pad_token_id(tok.pad_id)
    writer.add_mask_token_id(tok.mask_id)
    writer.add_sep_token_id(tok.sep_id)


def _gpt2_vocab(writer: Any, gguf: Any, tok: HFTokenizer) -> None:
    spec = json.loads(tok.model_bytes.decode("utf-8"))
    n = tok.vocab_size
    tokens = [tok.id_to_piece(i) for i in range(n)]
    types = [gguf.TokenType.CONTROL if i in tok.special_ids else gguf.TokenType.NORMAL
             for i in range(n)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, role in ((writer.add_bos_token_id, "bos"), (writer.add_eos_token_id, "eos"),
                         (writer.add_unk_token_id, "unk"), (writer.add_pad_token_id, "pad")):
        if tok.has_role(role):
            setter(tok.roles[role])


def write_vocab(writer: Any, gguf: Any, tok: BaseTokenizer) -> str:
    """Write the tokenizer's tokens, scores or merges, token types and special ids as llama.cpp
    reads them; return the `tokenizer.ggml.model` written. Raises UnsupportedTokenizer (before
    writing anything) for a kind llama.cpp cannot reproduce."""
    model = tokenizer_model(tok)
    if isinstance(tok, Tokenizer):
        _spm_vocab(writer, gguf, tok, model)
    elif isinstance(tok, HFTokenizer):
        _gpt2_vocab(writer, gguf, tok)
    else:
        raise TypeError(f"unknown tokenizer backend {type(tok).__name__}")
    writer.add_add_bos_token(False)  # our GPTs never saw a BOS before text
    writer.add_add_eos_token(False)
    return model
