"""Special pieces added to a tokenizer (ChatML's turn markers), for either backend.

SentencePiece: the pieces are appended to the model's proto as USER_DEFINED pieces, which the
encoder always matches whole (so "<|im_start|>" in a text is one id). Hugging Face `tokenizers`:
they become special added tokens (`Tokenizer.add_special_tokens`). Either way the new ids follow
the existing ones, so every earlier id keeps its meaning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import UserError
from .chat_template import ChatFormat, end_of_turn_piece
from .hf_tokenizer import HFTokenizer, require_tokenizers
from .layout import HF_TOKENIZER, TOKENIZER
from .tokenizer import Tokenizer
from .tokenizer_base import BaseTokenizer

_USER_DEFINED = 4  # sentencepiece_model.proto: ModelProto.SentencePiece.Type.USER_DEFINED


def missing_pieces(tokenizer: BaseTokenizer, pieces: Sequence[str]) -> list[str]:
    """The pieces the tokenizer does not hold as one token."""
    return [p for p in pieces if tokenizer.encode(p) != [tokenizer.piece_to_id(p)]
            or tokenizer.piece_to_id(p) == tokenizer.unk_id]


def add_special_pieces(tokenizer: BaseTokenizer, pieces: Sequence[str]) -> BaseTokenizer:
    """A tokenizer that also holds `pieces` (each one id, after the existing ones); the same
    tokenizer when it has them all. TypeError for an unknown backend."""
    todo = missing_pieces(tokenizer, pieces)
    if not todo:
        return tokenizer
    if isinstance(tokenizer, Tokenizer):
        return _sentencepiece_with(tokenizer, todo)
    if isinstance(tokenizer, HFTokenizer):
        tk = require_tokenizers()
        hf = tk.Tokenizer.from_str(tokenizer.hf.to_str())
        hf.add_special_tokens([tk.AddedToken(p, special=True, normalized=False) for p in todo])
        return HFTokenizer.from_tokenizer(hf, origin=HF_TOKENIZER)
    raise TypeError(f"unknown tokenizer backend {type(tokenizer).__name__}")


def _sentencepiece_with(tokenizer: Tokenizer, pieces: Sequence[str]) -> Tokenizer:
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError:  # pragma: no cover - protobuf comes with the chat extra
        raise UserError("adding chat tokens to a SentencePiece model needs protobuf: pip "
                        "install 'lmstudio-app[chat]'.", field="chat_template") from None

    proto = pb.ModelProto()  # type: ignore[attr-defined]  # generated protobuf code
    proto.ParseFromString(tokenizer.model_bytes)
    for piece in pieces:
        new = proto.pieces.add()
        new.piece, new.score, new.type = piece, 0.0, _USER_DEFINED
    return Tokenizer(proto.SerializeToString(), origin=TOKENIZER)


_ROLE_TOKENS = ("bos", "eos", "unk", "pad")


def chat_format(template: str, source: str, tokenizer: BaseTokenizer) -> ChatFormat:
    """The ChatFormat of `template` for this tokenizer: its special tokens by role (what
    transformers hands a template as bos_token, eos_token, ...) and its end-of-turn piece."""
    tokens = []
    for role in _ROLE_TOKENS:
        try:
            piece = tokenizer.id_to_piece(getattr(tokenizer, f"{role}_id"))
            tokens.append((f"{role}_token", piece))
        except UserError:
            continue  # a tokenizer without this role
    eos = tokenizer.id_to_piece(tokenizer.eos_id)
    end = end_of_turn_piece(template, eos, lambda p: not missing_pieces(tokenizer, [p]))
    return ChatFormat(template, source, end, tuple(tokens))


def end_of_turn_id(fmt: ChatFormat, tokenizer: BaseTokenizer) -> int:
    """The id generation stops at for this format."""
    return tokenizer.piece_to_id(fmt.end_of_turn)


def chat_spans(tokenizer: BaseTokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of a rendered conversation and each token's character span, a special token
    written in the text ("</s>" from a template's eos_token) read as that token, as
    transformers' tokenizers read it. (Our SentencePiece encoder spells special pieces out in
    characters, so the text is cut at them here.)"""
    if not isinstance(tokenizer, Tokenizer):
        return tokenizer.char_spans(text)
    specials = sorted({tokenizer.id_to_piece(i) for i in tokenizer.special_ids}, key=len,
                      reverse=True)
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for part in re.split("(" + "|".join(map(re.escape, specials)) + ")", text):
        if part in specials:
            ids.append(tokenizer.piece_to_id(part))
            spans.append((pos, pos + len(part)))
        elif part:
            more, their = tokenizer.char_spans(part)
            ids += more
            spans += [(pos + a, pos + b) for a, b in their]
        pos += len(part)
    return ids, spans


def chat_ids(tokenizer: BaseTokenizer, text: str) -> list[int]:
    """The ids of a rendered conversation (`chat_spans`' ids)."""
    return chat_spans(tokenizer, text)[0]
