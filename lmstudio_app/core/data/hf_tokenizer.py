"""The second tokenizer backend: a Hugging Face `tokenizers` file (tokenizer.json).

An imported GPT-2 (byte-level BPE) or BERT (WordPiece) keeps the tokenizer it was trained
with, unchanged, as tokenizer.json in its run folder. Roles are found by the names GPT-2, BERT
and SentencePiece give their special tokens (tokenizer.json records which tokens are special,
not which is the mask or the padding): `ROLE_NAMES` lists them, first match wins. GPT-2 has one
special token, "<|endoftext|>", which serves as beginning, end, unknown and padding (as in
transformers); BERT has no beginning/end tokens, so [CLS] and [SEP] stand for them.

Spans come from the tokenizers library's offsets (characters of the input), so extractive QA
maps answers through the tokenizer's own alignment, normalisation (lower-casing, accents)
included.

The `tokenizers` package comes with the optional extra `pip install 'lmstudio-app[hf]'`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ..errors import UserError
from .layout import HF_TOKENIZER
from .tokenizer_base import BaseTokenizer

HF_EXTRA = "pip install 'lmstudio-app[hf]'"

ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
    "unk": ("<unk>", "[UNK]", "<|endoftext|>", "<|end_of_text|>"),
    "bos": ("<s>", "<|endoftext|>", "[CLS]", "<|begin_of_text|>"),
    "eos": ("</s>", "<|endoftext|>", "[SEP]", "<|end_of_text|>"),
    "mask": ("[MASK]", "<mask>"),
    "cls": ("[CLS]", "<cls>"),
    "sep": ("[SEP]", "<sep>"),
}


def require_tokenizers() -> Any:
    """The `tokenizers` module, or a UserError saying how to install it."""
    try:
        import tokenizers
    except ImportError:
        raise UserError(f"this needs the Hugging Face libraries: {HF_EXTRA}") from None
    return tokenizers


def find_roles(specials: dict[str, int], unk_token: str | None) -> dict[str, int]:
    """Each role's id, by the special tokens' names (see ROLE_NAMES); pad falls back to eos."""
    roles: dict[str, int] = {}
    for role, names in ROLE_NAMES.items():
        found = next((specials[n] for n in names if n in specials), None)
        if found is not None:
            roles[role] = found
    if unk_token is not None and unk_token in specials:
        roles["unk"] = specials[unk_token]
    if "pad" not in roles and "eos" in roles:
        roles["pad"] = roles["eos"]  # GPT-2's convention: right padding is masked anyway
    return roles


def _kind(spec: dict[str, Any]) -> str:
    model = str(spec.get("model", {}).get("type", "unknown")).lower()
    pre = json.dumps(spec.get("pre_tokenizer") or {})
    if model == "bpe" and '"ByteLevel"' in pre:
        return "byte-level-bpe"
    return model


class HFTokenizer(BaseTokenizer):
    """A `tokenizers.Tokenizer` read from tokenizer.json bytes, behind the engine's interface.

    Raises UserError when the bytes are not a tokenizer.json, or when it lacks the roles every
    model needs (padding, unknown, beginning and end).
    """

    backend = "tokenizers"
    file_name = HF_TOKENIZER

    def __init__(self, data: bytes, origin: str = "tokenizer.json") -> None:
        tokenizers = require_tokenizers()
        try:
            spec = json.loads(data.decode("utf-8"))
            tok = tokenizers.Tokenizer.from_str(data.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{origin}: not a tokenizers file ({first}).",
                            field="tokenizer") from None
        specials = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])
                    if t.get("special")}
        unk = spec.get("model", {}).get("unk_token")
        self._roles = find_roles(specials, unk if isinstance(unk, str) else None)
        missing = [r for r in ("unk", "bos", "eos") if r not in self._roles]
        if missing:
            raise UserError(
                f"{origin}: no special token for {', '.join(missing)} among "
                f"{', '.join(sorted(specials)) or 'none'} (names known: "
                f"{', '.join(n for r in missing for n in ROLE_NAMES[r])}).", field="tokenizer")
        self._tok = tok
        self._bytes = bytes(data)
        self._sha256 = hashlib.sha256(self._bytes).hexdigest()
        self._kind = _kind(spec)
        self._special = frozenset(specials.values())
        self._origin = origin

    @classmethod
    def load(cls, path: Any) -> HFTokenizer:
        from pathlib import Path

        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read the tokenizer ({exc.strerror or exc}).",
                            field="tokenizer") from None
        return cls(data, origin=str(path))

    @classmethod
    def from_tokenizer(cls, tok: Any, origin: str = "tokenizer") -> HFTokenizer:
        """From a `tokenizers.Tokenizer` object (serialised, so the bytes are what is saved)."""
        return cls(tok.to_str().encode("utf-8"), origin)

    def __getstate__(self) -> dict[str, Any]:
        return {"model_bytes": self._bytes, "origin": self._origin}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_bytes"], state.get("origin", "tokenizer.json"))  # type: ignore[misc]

    @property
    def hf(self) -> Any:
        """The underlying `tokenizers.Tokenizer`."""
        return self._tok

    def _role(self, role: str) -> int:
        if role not in self._roles:
            raise UserError(f"{self._origin}: this tokenizer has no {role} token "
                            f"({'/'.join(ROLE_NAMES[role])}); a model using it cannot do this.",
                            field="tokenizer")
        return self._roles[role]

    def has_role(self, role: str) -> bool:
        return role in self._roles

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self._tok.encode(text, add_special_tokens=False).ids
        return ids

    def encode_batch(self, texts: list[str], num_threads: int = 0) -> list[list[int]]:
        # The library picks its own thread count (RAYON_NUM_THREADS); num_threads is a hint.
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        if hasattr(ids, "tolist"):
            ids = ids.tolist()  # numpy arrays and tensors
        text: str = self._tok.decode([int(i) for i in ids], skip_special_tokens=False)
        return text

    def char_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        spans: list[tuple[int, int]] = []
        for start, end in enc.offsets:
            # Byte-level pieces of one character share its span; keep spans ordered.
            start = max(start, spans[-1][0] if spans else 0)
            spans.append((start, max(start, end)))
        return list(enc.ids), spans

    def pieces(self, text: str) -> list[str]:
        _, spans = self.char_spans(text)
        return [text[s:e] for s, e in spans]

    def id_to_piece(self, i: int) -> str:
        piece = self._tok.id_to_token(int(i))
        return "" if piece is None else piece

    def piece_to_id(self, piece: str) -> int:
        i = self._tok.token_to_id(piece)
        return self._role("unk") if i is None else int(i)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @property
    def pad_id(self) -> int:
        return self._role("pad")

    @property
    def unk_id(self) -> int:
        return self._role("unk")

    @property
    def bos_id(self) -> int:
        return self._role("bos")

    @property
    def eos_id(self) -> int:
        return self._role("eos")

    @property
    def mask_id(self) -> int:
        return self._role("mask")

    @property
    def cls_id(self) -> int:
        return self._role("cls")

    @property
    def sep_id(self) -> int:
        return self._role("sep")

    @property
    def newline_id(self) -> int:
        ids = self.encode("\n")
        if len(ids) != 1:
            raise UserError(f"{self._origin}: a newline is not one token here.",
                            field="tokenizer")
        return ids[0]

    @property
    def special_ids(self) -> frozenset[int]:
        return self._special

    @property
    def roles(self) -> dict[str, int]:
        """Role name -> id, for the roles this tokenizer has."""
        return dict(self._roles)

    def __repr__(self) -> str:
        return f"HFTokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"
