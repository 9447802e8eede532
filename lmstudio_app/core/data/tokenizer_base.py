"""What every tokenizer backend offers the engine: ids, text, pieces, character spans, roles.

Two backends implement it: SentencePiece models trained here (`tokenizer.Tokenizer`, file
tokenizer.model) and Hugging Face `tokenizers` files brought in by an import
(`hf_tokenizer.HFTokenizer`, file tokenizer.json: byte-level BPE, WordPiece, ...). The engine
reads ids and roles through this interface only, so chat, fill-mask, classification, QA and
fine-tuning work the same on either. `tokenizer_files.load_tokenizer` picks the backend from
what a folder holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class BaseTokenizer(ABC):
    """A tokenizer: text <-> ids, the ids of the special roles, and the bytes to save it.

    Roles (`pad_id`, `mask_id`, ...) are ids in [0, vocab_size); a backend without a token for a
    role raises UserError(field="tokenizer") when asked for it.
    """

    backend: str  # "sentencepiece" | "tokenizers": what config.json records

    @property
    @abstractmethod
    def file_name(self) -> str:
        """The name its `model_bytes` are saved under in a run or data folder."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without any special token added."""

    @abstractmethod
    def encode_batch(self, texts: list[str], num_threads: int = 0) -> list[list[int]]:
        """`encode` of each text (on several threads where the backend can)."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of `ids` (special tokens included as the backend spells them)."""

    @abstractmethod
    def pieces(self, text: str) -> list[str]:
        """The text each token of `text` stands for, one per id, for display."""

    @abstractmethod
    def char_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The ids of `text` and each token's [start, end) in characters of `text`.

        Spans never overlap the next token's start; whitespace a token does not carry may lie
        between spans. Used to map an extractive answer between characters and tokens.
        """

    @abstractmethod
    def id_to_piece(self, i: int) -> str: ...

    @abstractmethod
    def piece_to_id(self, piece: str) -> int: ...

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @property
    @abstractmethod
    def pad_id(self) -> int: ...

    @property
    @abstractmethod
    def unk_id(self) -> int: ...

    @property
    @abstractmethod
    def bos_id(self) -> int: ...

    @property
    @abstractmethod
    def eos_id(self) -> int: ...

    @property
    @abstractmethod
    def mask_id(self) -> int: ...

    @property
    @abstractmethod
    def cls_id(self) -> int: ...

    @property
    @abstractmethod
    def sep_id(self) -> int: ...

    @property
    @abstractmethod
    def newline_id(self) -> int: ...

    @property
    @abstractmethod
    def special_ids(self) -> frozenset[int]:
        """Ids text never encodes to (padding, markers): never proposed by fill-mask."""

    # Set by each backend when it loads its file.
    _bytes: bytes
    _sha256: str
    _kind: str

    @property
    def sha256(self) -> str:
        """Hex digest of `model_bytes`: what a run records to recognise its tokenizer."""
        return self._sha256

    @property
    def model_bytes(self) -> bytes:
        """The file's content, saved as `file_name`."""
        return self._bytes

    @property
    def kind(self) -> str:
        """The model type: unigram, bpe, char, wordpiece, byte-level-bpe, ..."""
        return self._kind
