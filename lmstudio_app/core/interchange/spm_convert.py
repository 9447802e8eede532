"""Our SentencePiece tokenizers as Hugging Face `tokenizers` objects giving the same ids.

The models made here (core/data/tokenizer.py) use the identity normalisation, keep whitespace,
add no dummy prefix, carry "\\n" as a user-defined piece and fall back to UTF-8 byte pieces.
The equivalent `tokenizers` pipeline writes the pieces with their spaces as spaces ("▁the" is
" the"), so offsets and words follow Hugging Face's conventions:

    normalizer     "▁" -> " " (SentencePiece reads a "▁" in text as the space it stands for)
    pre-tokenizer  split before each run of spaces (a word is its leading spaces and what
                   follows; no piece crosses that boundary, so the ids do not change)
    model          Unigram with SentencePiece's scores (unigram and char models), or BPE with
                   the merges implied by the vocabulary (bpe models: a pair merges when the two
                   pieces join into a vocabulary piece, the earlier that piece the earlier the
                   merge), both with byte fallback
    added          the seven special pieces as special tokens ("[MASK]" takes the space before
                   it, as our fill-mask does), "\\n" as a plain added token, a chat run's
                   ChatML turn markers as special tokens
    post-processor character offsets without a token's leading or trailing spaces (ByteLevel's
                   trim_offsets), then the template an export needs (see `with_template`)
    decoder        byte pieces -> bytes -> text

(after transformers' convert_slow_tokenizer.SpmConverter, without its protobuf dependency).
Tests check the ids equal SentencePiece's on a long stretch of the Austen corpus. One
difference is intended: a special piece spelled out in the text ("[MASK]") becomes that special
token, as transformers' pipelines expect (fill-mask writes "[MASK]" into the text); our own
encoder spells it out in characters and inserts special ids itself.
"""

from __future__ import annotations

from typing import Any

from ..data.chat_template import CHATML_TOKENS
from ..data.hf_tokenizer import require_tokenizers
from ..data.tokenizer import NEWLINE_PIECE, SPECIAL_PIECES, Tokenizer

SPACE_MARK = "\u2581"
ROLE_PIECES = dict(zip(("pad", "unk", "bos", "eos", "mask", "cls", "sep"), SPECIAL_PIECES,
                       strict=True))


def bpe_merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Every (left, right) whose join is a vocabulary piece, ordered by that piece's id (then
    by the parts' ids): SentencePiece's BPE merges the pair whose join scores highest, and its
    scores fall with the id."""
    ranked = []
    for piece, pid in vocab.items():
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                ranked.append((pid, vocab[left], vocab[right], left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


def spaced_pieces(tok: Tokenizer) -> list[str]:
    """The vocabulary's pieces with SentencePiece's space mark written as a space."""
    return [tok.id_to_piece(i).replace(SPACE_MARK, " ") for i in range(tok.vocab_size)]


def spm_to_tokenizers(tok: Tokenizer) -> Any:
    """A `tokenizers.Tokenizer` that encodes text to the same ids as `tok` and adds no
    special tokens (compose `with_template` for that)."""
    tk = require_tokenizers()
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(tok.model_bytes)
    pieces = spaced_pieces(tok)
    unk = SPECIAL_PIECES.index("<unk>")
    if tok.kind == "bpe":
        vocab = {p: i for i, p in enumerate(pieces)}
        model = tk.models.BPE(vocab=vocab, merges=bpe_merges(vocab), unk_token="<unk>",
                              byte_fallback=True)
    else:
        model = tk.models.Unigram([(p, sp.get_score(i)) for i, p in enumerate(pieces)],
                                  unk_id=unk, byte_fallback=True)
    out = tk.Tokenizer(model)
    out.normalizer = tk.normalizers.Replace(SPACE_MARK, " ")
    out.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex(" +"), behavior="merged_with_next")
    out.decoder = tk.decoders.Sequence([tk.decoders.ByteFallback(), tk.decoders.Fuse()])
    out.add_special_tokens([tk.AddedToken(p, special=True, normalized=False,
                                          lstrip=p == ROLE_PIECES["mask"])
                            for p in SPECIAL_PIECES])
    out.add_tokens([tk.AddedToken(NEWLINE_PIECE, special=False, normalized=False)])
    turn_markers = [p for p in CHATML_TOKENS if p in pieces]  # a chat run's ChatML tokens
    out.add_special_tokens([tk.AddedToken(p, special=True, normalized=False)
                            for p in turn_markers])
    out.post_processor = tk.processors.ByteLevel(trim_offsets=True, add_prefix_space=False)
    return out


def with_template(backend: Any, single: str, pair: str, special: dict[str, int]) -> Any:
    """A copy of the `tokenizers.Tokenizer` `backend` whose encodings with special tokens
    follow `single` / `pair` (tokenizers' TemplateProcessing syntax: "[CLS] $A [SEP]",
    "$A $B:1 [SEP]:1"), after what its own post-processor does (offsets, its own template).
    `special` maps each special piece the templates name to its id."""
    tk = require_tokenizers()
    out = tk.Tokenizer.from_str(backend.to_str())
    template = tk.processors.TemplateProcessing(single=single, pair=pair,
                                                special_tokens=list(special.items()))
    out.post_processor = template if out.post_processor is None else \
        tk.processors.Sequence([out.post_processor, template])
    return out


def with_end_token(backend: Any, piece: str, token_id: int) -> Any:
    """A copy of `backend` whose encodings with special tokens end with `piece` (id
    `token_id`), after what its own post-processor adds."""
    return with_template(backend, f"$A {piece}", f"$A $B:1 {piece}:1", {piece: token_id})
