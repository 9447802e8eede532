"""What a corpus source holds, before it is prepared: its counts, its first screen of text and a
sample sentence, read with the engine's one corpus reader (core.data.corpus, core.data.text).

The window runs these in background jobs; they take a `threading.Event` to poll where the work
is long (counting every document) and raise `CountCancelled` when it is set.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..util.units import human_bytes
from .columnar import is_columnar
from .corpus import (
    KINDS,
    CorpusOptions,
    corpus_size,
    decompressed,
    discover,
    file_format,
    read_documents,
)
from .text import binary_kind, preview

PREVIEW_BYTES = 20 * 1024
SNIFF_BYTES = 8192
SAMPLE_FALLBACK = "It is a truth universally acknowledged."


class CountCancelled(Exception):
    """count_source saw its cancel event set: no counts."""


@dataclass
class SourceCounts:
    """One source's files, bytes (on disk), documents and characters (decoded), or why not."""

    path: str
    files: int = 0
    size: int = 0
    documents: int = 0
    chars: int = 0
    error: str | None = None
    fields: tuple[str, ...] = ()  # the settings the error names (UserError.fields)
    refused: bool = False  # not a corpus source at all (an image, an unsupported type)


def not_text(path: Path) -> str | None:
    """Why the file `path` cannot be a corpus source: a type the corpus reader does not take,
    or bytes that are not text in its first SNIFF_BYTES (core.data.text.binary_kind: a PNG,
    a PDF, a program, NUL bytes outside UTF-16); None for a text file. The head is read
    decompressed for .gz and .zst; a Parquet or Arrow file is not sniffed (its reader checks
    it). OSError when the file cannot be read."""
    if is_columnar(path):
        return None
    with _open_bytes(path) as fh:
        head = fh.read(SNIFF_BYTES)
    what = binary_kind(head)
    if what is not None:
        return f"{path.name} is {what}, not text: a corpus is made of {KINDS}."
    if file_format(path) is None:
        return f"{path.name}: a corpus takes {KINDS}; rename a text file to one of these."
    return None


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed for .gz and .zst."""
    raw = open(path, "rb")  # noqa: SIM115 - the stream returned closes it
    stream: io.BufferedIOBase = decompressed(path, raw)
    if stream is not raw:
        stream = _Closing(stream, raw)
    return stream


class _Closing(io.BufferedIOBase):
    """A decompressing stream that closes the file under it too."""

    def __init__(self, stream: io.BufferedIOBase, raw: io.BufferedIOBase) -> None:
        super().__init__()
        self._stream, self._raw = stream, raw

    def read(self, size: int | None = -1) -> bytes:
        return self._stream.read(-1 if size is None else size)

    def close(self) -> None:
        self._stream.close()
        self._raw.close()
        super().close()


def count_source(path: str, options: CorpusOptions,
                 cancel: threading.Event | None = None) -> SourceCounts:
    """Files, bytes, documents and characters of one source (a file or a folder); a user
    mistake becomes `error` (with the settings it names in `fields`), and a file that is no
    corpus source at all (not_text) is `refused`. Raises CountCancelled once `cancel` is set."""
    out = SourceCounts(path)
    try:
        if Path(path).is_file():
            reason = not_text(Path(path))
            if reason is not None:
                out.error, out.refused = reason, True
                return out
        files = discover([path], options)
        out.files, out.size = len(files), corpus_size(files)
        for f in files:
            for doc in read_documents(f, options):
                if cancel is not None and cancel.is_set():
                    raise CountCancelled(path)
                out.documents += 1
                out.chars += len(doc)
    except UserError as exc:
        out.error, out.fields = str(exc), exc.fields
    except OSError as exc:
        out.error = f"{path}: cannot read ({exc.strerror or exc}); check the file's permissions."
    return out


def read_preview(path: str, options: CorpusOptions) -> tuple[str, str]:
    """(the first PREVIEW_BYTES of the source as text, a one-line note about what is shown).

    A folder shows its first file. Decoded as the corpus reader does (byte-order marks too).
    Raises UserError for a file that is not text or cannot be read, and for a folder without a
    corpus file (discover's message)."""
    p = Path(path)
    if p.is_dir():
        files = discover([p], options)
        p = files[0]
        note = f"{p.name}, the first of {len(files)} file(s) in this folder"
    else:
        note = p.name
    try:
        reason = not_text(p)
        if reason is not None:  # no screen of binary garbage
            raise UserError(reason)
        if is_columnar(p):
            return _columnar_preview(p, options), note
        with _open_bytes(p) as fh:
            raw = fh.read(PREVIEW_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{p}: cannot read the file ({exc.strerror or exc}).") from None
    cut = len(raw) > PREVIEW_BYTES
    text = preview(raw[:PREVIEW_BYTES], options.encoding)
    if cut:
        note += f" (first {human_bytes(PREVIEW_BYTES)})"
    return text, note


def _columnar_preview(path: Path, options: CorpusOptions) -> str:
    """The first rows of a Parquet or Arrow file's text column, a blank line between them."""
    shown: list[str] = []
    size = 0
    for doc in read_documents(path, options):
        shown.append(doc[: PREVIEW_BYTES - size])
        size += len(shown[-1]) + 2
        if size >= PREVIEW_BYTES:
            break
    return "\n\n".join(shown)


def _sentence(line: str, max_chars: int) -> str | None:
    """A paragraph squeezed to one line, cut after its first sentence end past 40 characters;
    None for a paragraph too short or without letters."""
    line = " ".join(line.split())
    if len(line) < 40 or not any(c.isalpha() for c in line):
        return None
    m = re.search(r"[.!?](\s|$)", line[40:max_chars])
    return line[: 40 + m.end()].strip() if m else line[:max_chars]


def sample_sentence(sources: list[str], options: CorpusOptions, max_chars: int = 200) -> str:
    """A line of real text from the first document of each corpus file, cut at a sentence end
    (what the window's piece view shows); SAMPLE_FALLBACK when no paragraph fits."""
    for f in discover(sources, options):
        for doc in read_documents(f, options):
            for line in doc.split("\n\n"):
                found = _sentence(line, max_chars)
                if found is not None:
                    return found
            break
    return SAMPLE_FALLBACK
