"""Our SentencePiece tokenizers as Hugging Face `tokenizers` objects giving the same ids.

The models made here (core/data/tokenizer.py) use the identity normalisation, keep whitespace,
add no dummy prefix, carry "\\n" as a user-defined piece and fall back to UTF-8 byte pieces.
The equivalent `tokenizers` pipeline:

    normalizer   " " -> "▁" (SentencePiece's whitespace escape, nothing else)
    model        Unigram with SentencePiece's scores (unigram and char models), or BPE with the
                 merges implied by the vocabulary (bpe models: a pair merges when the two
                 pieces join into a vocabulary piece, the earlier that piece the earlier the
                 merge), both with byte fallback
    added        the seven special pieces as special tokens, "\\n" as a plain added token
    decoder      "▁" -> " ", byte pieces -> bytes -> text

(after transformers' convert_slow_tokenizer.SpmConverter, without its protobuf dependency).
Tests check the ids equal SentencePiece's on a long stretch of the Austen corpus. One
difference is intended: a special piece spelled out in the text ("[MASK]") becomes that special
token, as transformers' pipelines expect (fill-mask writes "[MASK]" into the text); our own
encoder spells it out in characters and inserts special ids itself.
"""

from __future__ import annotations

from typing import Any

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


def spm_to_tokenizers(tok: Tokenizer, bert_template: bool = False) -> Any:
    """A `tokenizers.Tokenizer` that encodes text to the same ids as `tok`.

    With `bert_template`, encoding with special tokens gives "[CLS] A [SEP]" (pairs
    "[CLS] A [SEP] B [SEP]" with segment ids 0 / 1), as our BERT inputs are built.
    """
    tk = require_tokenizers()
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(tok.model_bytes)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    unk = SPECIAL_PIECES.index("<unk>")
    if tok.kind == "bpe":
        vocab = {p: i for i, p in enumerate(pieces)}
        model = tk.models.BPE(vocab=vocab, merges=bpe_merges(vocab), unk_token="<unk>",
                              byte_fallback=True)
    else:
        model = tk.models.Unigram([(p, sp.get_score(i)) for i, p in enumerate(pieces)],
                                  unk_id=unk, byte_fallback=True)
    out = tk.Tokenizer(model)
    out.normalizer = tk.normalizers.Replace(" ", SPACE_MARK)
    out.decoder = tk.decoders.Sequence([tk.decoders.Replace(SPACE_MARK, " "),
                                        tk.decoders.ByteFallback(), tk.decoders.Fuse()])
    out.add_special_tokens([tk.AddedToken(p, special=True, normalized=False)
                            for p in SPECIAL_PIECES])
    out.add_tokens([tk.AddedToken(NEWLINE_PIECE, special=False, normalized=False)])
    if bert_template:
        cls, sep = ROLE_PIECES["cls"], ROLE_PIECES["sep"]
        out.post_processor = tk.processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
            special_tokens=[(cls, tok.cls_id), (sep, tok.sep_id)])
    return out


def with_end_token(backend: Any, piece: str, token_id: int) -> Any:
    """A copy of the `tokenizers.Tokenizer` `backend` whose encodings with special tokens end
    with `piece` (id `token_id`), after what its own post-processor adds."""
    tk = require_tokenizers()
    out = tk.Tokenizer.from_str(backend.to_str())
    end = tk.processors.TemplateProcessing(single=f"$A {piece}", pair=f"$A $B:1 {piece}:1",
                                           special_tokens=[(piece, token_id)])
    out.post_processor = end if out.post_processor is None else \
        tk.processors.Sequence([out.post_processor, end])
    return out
