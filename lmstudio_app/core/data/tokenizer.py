"""SentencePiece tokenizers that give text back exactly: train, load, encode, decode.

SentencePiece normalises text (NFKC), squeezes whitespace and reads its input line by line by
default. A language model of prose or verse must keep line breaks and spacing, so the models
made here use the `identity` normalisation, keep extra whitespace, add no dummy prefix, carry a
user-defined piece for "\\n" (encoded text keeps its newlines as that piece) and fall back to
UTF-8 bytes for characters outside the vocabulary. Then decode(encode(text)) == text.

One limit remains: SentencePiece uses U+2581 ("▁") as its space marker, so that rare character
comes back as a plain space.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sentencepiece as spm

from ..errors import UserError
from ..util.atomic import atomic_write_bytes
from .layout import TOKENIZER
from .text import clean_typed
from .tokenizer_base import BaseTokenizer

KINDS = ("unigram", "bpe", "char")
# Ids 0..6, in this order. The last three are control symbols: text never encodes to them,
# code inserts their ids (masked-LM masks, classification and sentence-pair markers).
SPECIAL_PIECES = ("<pad>", "<unk>", "<s>", "</s>", "[MASK]", "[CLS]", "[SEP]")
CONTROL_PIECES = SPECIAL_PIECES[4:]
NEWLINE_PIECE = "\n"
N_BYTE_PIECES = 256
# Smallest vocabulary a model can have: the specials, the newline, the 256 byte pieces, one more.
MIN_VOCAB = len(SPECIAL_PIECES) + 1 + N_BYTE_PIECES + 1

_MAX_LINE_CHARS = 1024  # training lines are cut to this; SentencePiece skips over-long sentences
_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


class EmptyCorpusError(UserError):
    """The documents given to train a tokenizer held no text."""


@dataclass
class TokenizerSpec:
    """What tokenizer to train."""

    kind: str = "unigram"  # unigram | bpe | char
    vocab_size: int = 8000  # for "char", an upper bound: the corpus's characters decide
    # Large corpora train on a bounded sample of documents, spread over the whole corpus: 10 MB
    # gives an 8k vocabulary its pieces while keeping SentencePiece's training to seconds.
    sample_bytes: int = 10_000_000

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"tokenizer kind {self.kind!r}: choose one of {', '.join(KINDS)}.",
                            field="kind")
        if self.vocab_size < MIN_VOCAB:
            raise UserError(
                f"vocab size {self.vocab_size} is too small: a tokenizer needs at least "
                f"{MIN_VOCAB} pieces (7 special pieces, the newline and 256 byte pieces).",
                field="vocab_size", option=str(MIN_VOCAB)
            )
        if self.vocab_size > 1 << 20:
            raise UserError(f"vocab size {self.vocab_size} is too large: use at most 1048576.",
                            field="vocab_size", option="1048576")
        if self.sample_bytes < 1:
            raise UserError(f"sample_bytes={self.sample_bytes}: must be positive.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _proto_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a serialised protobuf message: an int for a varint
    (wire type 0), bytes for the others."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _model_type(model: bytes) -> str:
    """The model type recorded in a SentencePiece model (ModelProto.trainer_spec.model_type)."""
    for number, wire, value in _proto_fields(model):
        if number == 2 and wire == 2 and isinstance(value, bytes):
            for sub_number, sub_wire, sub_value in _proto_fields(value):
                if sub_number == 3 and sub_wire == 0 and isinstance(sub_value, int):
                    return _MODEL_TYPES.get(sub_value, "unknown")
            return "unigram"  # the proto's default
    return "unigram"


class Tokenizer(BaseTokenizer):
    """A loaded SentencePiece model with this app's special pieces."""

    backend = "sentencepiece"
    file_name = TOKENIZER

    def __init__(self, model_bytes: bytes, origin: str = "tokenizer model") -> None:
        sp = spm.SentencePieceProcessor()
        try:
            sp.LoadFromSerializedProto(model_bytes)
        except Exception:  # sentencepiece raises RuntimeError or OSError depending on version
            raise UserError(
                f"{origin}: not a SentencePiece model; prepare the data again to make one."
            ) from None
        count = min(len(SPECIAL_PIECES), sp.get_piece_size())
        found = tuple(sp.id_to_piece(i) for i in range(count))
        if found != SPECIAL_PIECES or sp.piece_to_id(NEWLINE_PIECE) == sp.unk_id():
            raise UserError(
                f"{origin}: a SentencePiece model without this app's special pieces "
                f"({' '.join(SPECIAL_PIECES)} and a newline piece); prepare the data again."
            )
        self._sp = sp
        self._bytes = bytes(model_bytes)
        self._sha256 = hashlib.sha256(self._bytes).hexdigest()
        self._kind = _model_type(self._bytes)
        self._newline_id = sp.piece_to_id(NEWLINE_PIECE)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Tokenizer:
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"{path}: no tokenizer model here; prepare the data first.") from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read the tokenizer ({exc.strerror or exc}).") from None
        return cls(data, origin=str(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> Tokenizer:
        return cls(data)

    # Pickling sends the model bytes, so a tokenizer can go to a worker process.
    def __getstate__(self) -> dict[str, Any]:
        return {"model_bytes": self._bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_bytes"])  # type: ignore[misc]

    def encode(self, text: str) -> list[int]:
        """Ids of `text`; a lone surrogate (half an emoji, bytes that were not UTF-8 on a
        command line) and a NUL character are read as U+FFFD (`text.clean_typed`)."""
        ids: list[int] = self._sp.encode(clean_typed(text))
        return ids

    def encode_batch(self, texts: list[str], num_threads: int = 0) -> list[list[int]]:
        """Encode many texts at once on `num_threads` threads (0: one per core)."""
        if not texts:
            return []
        threads = num_threads if num_threads > 0 else (os.cpu_count() or 1)
        batch: list[list[int]] = self._sp.encode(texts, num_threads=threads)
        return batch

    def decode(self, ids: Sequence[int]) -> str:
        if hasattr(ids, "tolist"):
            ids = ids.tolist()  # numpy arrays and tensors
        text: str = self._sp.decode([int(i) for i in ids])
        return text

    def pieces(self, text: str) -> list[str]:
        """The text of each token of `text`, one per id, for display.

        The space marker is shown as a space; byte pieces keep their "<0xE2>" form.
        """
        return [p.replace("\u2581", " ")
                for p in self._sp.encode(clean_typed(text), out_type=str)]

    def char_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Spans built from the pieces: the word-boundary marker stands for one space (or a
        literal U+2581), the newline piece for one newline, and byte-fallback pieces add UTF-8
        bytes until a character is complete; every byte piece of one character gets that
        character's span."""
        ids = self.encode(text)
        spans: list[tuple[int, int]] = []
        pos = 0
        pending = b""
        for i in ids:
            piece = self.id_to_piece(i)
            byte = _BYTE_PIECE.fullmatch(piece)
            if byte:
                pending += bytes([int(byte.group(1), 16)])
                try:
                    ch = pending.decode("utf-8")
                except UnicodeDecodeError:
                    spans.append((pos, pos + 1))  # part of the character starting at pos
                    continue
                pending = b""
                spans.append((pos, pos + len(ch)))
                pos += len(ch)
                continue
            start = pos
            pos += len(piece)  # the marker and the newline piece are one character each
            spans.append((start, pos))
        if pos != len(text) or pending:
            raise ValueError(f"pieces cover {pos} characters of a text of {len(text)}")
        return ids, spans

    def id_to_piece(self, i: int) -> str:
        return self._sp.id_to_piece(int(i))

    def piece_to_id(self, piece: str) -> int:
        return self._sp.piece_to_id(piece)

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def bos_id(self) -> int:
        return 2

    @property
    def eos_id(self) -> int:
        return 3

    @property
    def mask_id(self) -> int:
        return 4

    @property
    def cls_id(self) -> int:
        return 5

    @property
    def sep_id(self) -> int:
        return 6

    @property
    def newline_id(self) -> int:
        return self._newline_id

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(range(len(SPECIAL_PIECES)))

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"


def _training_lines(
    documents: Iterable[str],
    limit: int,
    progress: Callable[[int], None] | None,
    chars: set[str] | None,
) -> Iterator[str]:
    """Lines of the documents (newlines removed: each is a sentence to SentencePiece).

    Stops after `limit` bytes of documents. Long lines are cut at spaces.
    """
    fed = 0
    for doc in documents:
        if chars is not None:
            chars.update(doc)
        for line in doc.split("\n"):
            while len(line) > _MAX_LINE_CHARS:
                cut = line.rfind(" ", _MAX_LINE_CHARS // 2, _MAX_LINE_CHARS)
                cut = cut if cut > 0 else _MAX_LINE_CHARS
                yield line[:cut]
                line = line[cut:]
            if line:
                yield line
        fed += len(doc.encode("utf-8"))
        if progress is not None:
            progress(fed)
        if fed >= limit:
            return


_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")
_TOO_LOW = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")


def train_tokenizer(
    documents: Iterable[str],
    spec: TokenizerSpec,
    out_path: Path,
    progress: Callable[[int], None] | None = None,
) -> Tokenizer:
    """Train a tokenizer on the documents (up to spec.sample_bytes of them), write it atomically.

    A vocabulary too large for the corpus is refused with the largest size that fits (rather
    than silently training a smaller one, which would disagree with the settings the user chose).
    `progress(bytes_fed)` is called as documents are consumed.
    """
    spec.validate()
    chars: set[str] | None = set() if spec.kind == "char" else None
    lines = _training_lines(documents, spec.sample_bytes, progress, chars)
    n_lines = 0
    failure: list[BaseException] = []

    def counted() -> Iterator[str]:
        # SentencePiece swallows an exception raised by its sentence iterator and trains on
        # what it got; keep the error (a bad row, a cancel) and raise it after training.
        nonlocal n_lines
        try:
            for line in lines:
                n_lines += 1
                yield line
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failure.append(exc)

    # A char model's vocabulary is its characters: cap it by what the corpus holds (the count
    # is known only after reading, so the trainer is told "at most" via hard_vocab_limit=False).
    options: dict[str, Any] = dict(
        model_type=spec.kind,
        vocab_size=spec.vocab_size,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        byte_fallback=True,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        control_symbols=list(CONTROL_PIECES),
        user_defined_symbols=[NEWLINE_PIECE],
        max_sentence_length=8 * _MAX_LINE_CHARS,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )
    if spec.kind == "char":
        options.update(character_coverage=1.0, hard_vocab_limit=False)
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=counted(), model_writer=buf, **options)
    except RuntimeError as exc:
        if failure:
            raise failure[0] from None
        raise _training_error(exc, spec, n_lines) from None
    if failure:
        raise failure[0]
    if n_lines == 0:
        raise EmptyCorpusError("the corpus holds no text to train a tokenizer on; add text files.")
    tok = Tokenizer(buf.getvalue())
    atomic_write_bytes(out_path, tok.model_bytes)
    return tok


def _training_error(exc: RuntimeError, spec: TokenizerSpec, n_lines: int) -> Exception:
    message = str(exc)
    if n_lines == 0:
        return EmptyCorpusError("the corpus holds no text to train a tokenizer on; add text files.")
    high = _TOO_HIGH.search(message)
    if high:
        return UserError(
            f"vocab size {spec.vocab_size} is too large for this corpus: use {high.group(2)} or "
            "less (or add more text).", field="vocab_size", option=high.group(2)
        )
    low = _TOO_LOW.search(message)
    if low:
        return UserError(
            f"vocab size {spec.vocab_size} cannot hold the {low.group(2)} pieces this corpus "
            f"needs (characters, bytes, specials): use {low.group(2)} or more.",
            field="vocab_size", option=low.group(2)
        )
    return RuntimeError(f"SentencePiece training failed: {message}")
