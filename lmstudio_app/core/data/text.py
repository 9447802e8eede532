"""Where text enters the engine: bytes to str, and strings from JSON or typed by a user.

Files: a byte-order mark decides the encoding when there is one (UTF-8, UTF-16 LE/BE,
UTF-32 LE/BE), whatever encoding was chosen; else the chosen one does ("replace" is UTF-8 with
undecodable bytes turned into U+FFFD). Line ends become "\\n" (CRLF and lone CR alike).

What is refused, with the file and line and an encoding that reads it: bytes that are not valid
in the encoding (strictly decoded), and a file whose every other byte is NUL (UTF-16 without a
byte-order mark). What is cleaned and reported (`TextNotes`, file and first line): stray NUL
characters (removed), lone UTF-16 surrogates from JSON escapes such as "\\ud83d", half of an
emoji cut in two (replaced by U+FFFD), other control characters (kept, counted), and C1 control
characters in a latin-1 read (the file is probably Windows-1252: read as cp1252).

SentencePiece takes UTF-8 strings only: every text it sees passed through here.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "cp1252", "latin-1", "replace")
_CODECS = {"utf-8": "utf-8", "replace": "utf-8", "utf-16-le": "utf-16-le",
           "utf-16-be": "utf-16-be", "cp1252": "cp1252", "latin-1": "latin-1"}
# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"))
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab, newline, carriage return and form feed; DEL; C1 controls.
_CONTROL = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f\x80-\x9f]")
_C1 = re.compile("[\x80-\x9f]")
_NUL_SHARE = 0.1  # NUL characters above this share of a file's start: UTF-16 without a BOM


def check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise UserError(f"encoding {encoding!r}: choose one of {', '.join(ENCODINGS)}.",
                        field="encoding", option="utf-8")


@dataclass
class _Note:
    count: int
    line: int | None
    text: str


@dataclass
class TextNotes:
    """What reading cleaned or noticed, one line per file and kind, for the user's report."""

    _notes: dict[tuple[str, str], _Note] = field(default_factory=dict)

    def add(self, path: str | Path, kind: str, line: int | None, text: str, n: int = 1) -> None:
        key = (str(path), kind)
        note = self._notes.get(key)
        if note is None:
            self._notes[key] = _Note(n, line, text)
        else:
            note.count += n

    def lines(self) -> list[str]:
        out = []
        for (path, _kind), note in self._notes.items():
            where = f"{Path(path).name}" + (f", line {note.line}" if note.line else "")
            out.append(f"{where}: {note.text.format(n=note.count)}")
        return out

    def __bool__(self) -> bool:
        return bool(self._notes)

    def __len__(self) -> int:
        return len(self._notes)


def sniff_bom(head: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when `head` starts with a byte-order mark."""
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return None


def _utf16_order(raw: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when most odd (or even) bytes are zero: ASCII as UTF-16."""
    if len(raw) < 4:
        return None
    even, odd = raw[0::2], raw[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


# The start of common files that are not text, and what they are.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"%PDF-", "a PDF document"),
          (b"PK\x03\x04", "a ZIP archive (or an Office document)"), (b"\x7fELF", "a program"))


def binary_kind(head: bytes) -> str | None:
    """What the first bytes of a file are when they are not text in any encoding the reader
    takes ("a PNG image", "binary data ..."), else None. A byte-order mark, or NUL bytes in
    every other place (UTF-16 without a mark), is text: the reader decodes it."""
    what = next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)
    if what is not None or b"\x00" not in head:
        return what
    if sniff_bom(head) is not None or _utf16_order(head) is not None:
        return None
    return "binary data (it holds NUL bytes and no byte-order mark of UTF-16 or UTF-32)"


def guess_encoding(raw: bytes) -> str:
    """The encoding that most likely reads bytes that are not UTF-8 (one of ENCODINGS):
    "replace" for UTF-8 text with a few damaged bytes, the UTF-16 byte order for UTF-16 without
    a byte-order mark, cp1252 or latin-1 for single-byte Western text."""
    order = _utf16_order(raw)
    if order:
        return order
    text = raw.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    if sum(1 for c in text if ord(c) > 127) - damaged > damaged:
        return "replace"
    if any(0x80 <= b <= 0x9F for b in raw):
        try:
            raw.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


class Decoder:
    """Incremental decoding of one file's bytes, with the line count for messages.

    Feed blocks with `decode(block, final)`; `lines_before` is the number of "\\n" emitted so
    far. `on_text` sees each decoded block (for the checks that need the text).
    """

    def __init__(self, path: Path, encoding: str, notes: TextNotes | None,
                 where: str = "") -> None:
        check_encoding(encoding)
        self.path = path
        self.encoding = encoding
        self.notes = notes
        self.where = where  # "of the uncompressed text " for gzip files
        self._decoder: codecs.IncrementalDecoder | None = None
        self._codec = _CODECS[encoding]
        self._head = b""
        self.fed = 0  # bytes handed to the codec
        self.lines_before = 0
        self._held_cr = False
        self._checked_nul = False

    def _start(self, head: bytes) -> bytes:
        bom = sniff_bom(head)
        if bom is not None:
            self._codec, skip = bom
            head = head[skip:]
            self.fed += skip
        errors = "replace" if self.encoding == "replace" else "strict"
        self._decoder = codecs.getincrementaldecoder(self._codec)(errors=errors)
        return head

    def decode(self, block: bytes, final: bool) -> str:
        if self._decoder is None:
            self._head += block
            if len(self._head) < 4 and not final:
                return ""
            block, self._head = self._start(self._head), b""
        assert self._decoder is not None
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            raise self._bad_bytes(exc, block, pending) from None
        self.fed += len(block)
        text = self._line_ends(text, final)
        if text:
            text = self._check(text)
            self.lines_before += text.count("\n")
        return text

    def _line_ends(self, text: str, final: bool) -> str:
        if self._held_cr:
            text = "\r" + text
            self._held_cr = False
        if text.endswith("\r") and not final:
            text, self._held_cr = text[:-1], True
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text

    def line_at(self, text: str, pos: int) -> int:
        return self.lines_before + text.count("\n", 0, pos) + 1

    def _bad_bytes(self, exc: UnicodeDecodeError, block: bytes, pending: int) -> UserError:
        offset = self.fed - pending + exc.start
        prefix = block[:max(exc.start - pending, 0)]
        line = self.lines_before + prefix.replace(b"\r\n", b"\n").count(b"\n") + 1
        guess = guess_encoding(block)
        name = {"utf-8": "UTF-8", "replace": "UTF-8"}.get(self.encoding, self.encoding)
        if self._codec != _CODECS[self.encoding]:
            name = self._codec.upper() + " (from its byte-order mark)"
        byte = exc.object[exc.start] if exc.start < len(exc.object) else 0
        if guess == "replace":
            advice = ("the rest reads as UTF-8: read it with encoding replace to mark the damaged "
                      "bytes as U+FFFD (or latin-1 if the file is not UTF-8)")
        else:
            advice = (f"the file looks like {guess}: read it with encoding {guess} (or replace, "
                      "to keep UTF-8 and mark the bad bytes)")
        return UserError(
            f"{self.path}, line {line}: not valid {name} at byte offset {offset} {self.where}"
            f"(byte 0x{byte:02x}); {advice}.", field="encoding", option=guess)

    def _check(self, text: str) -> str:
        if "\x00" in text:
            text = self._nul(text)
        if self.notes is not None and _CONTROL.search(text):
            self._controls(text)
        return text

    def _nul(self, text: str) -> str:
        if not self._checked_nul:
            self._checked_nul = True
            head = text[:4096]
            if self.lines_before == 0 and head.count("\x00") > _NUL_SHARE * len(head):
                raise self._nul_heavy(head)
        if self.notes is not None:
            self.notes.add(self.path, "nul", self.line_at(text, text.index("\x00")),
                           "{n} NUL characters (U+0000) removed", text.count("\x00"))
        return text.replace("\x00", "")

    def _nul_heavy(self, head: str) -> UserError:
        n = head.count("\x00")
        half = len(head) / 2
        odd, even = head[1::2].count("\x00"), head[0::2].count("\x00")
        if self._codec in ("utf-8", "latin-1", "cp1252") and max(odd, even) > 0.4 * half \
                and min(odd, even) < 0.1 * half:
            order = "utf-16-le" if odd > even else "utf-16-be"
            return UserError(
                f"{self.path}, line 1: {n} of the first {len(head)} characters are NUL (U+0000), "
                "every other one: the file looks like UTF-16 without a byte-order mark; read it "
                f"with encoding {order}.", field="encoding", option=order)
        return UserError(
            f"{self.path}, line 1: {n} of the first {len(head)} characters are NUL (U+0000): "
            "this is not a text file (binary data?); remove it from the corpus or exclude it.",
            field="exclude")

    def _controls(self, text: str) -> None:
        assert self.notes is not None
        match = _CONTROL.search(text)
        assert match is not None
        if self._codec in ("latin-1",) and _C1.search(text):
            c1 = _C1.search(text)
            assert c1 is not None
            self.notes.add(self.path, "c1", self.line_at(text, c1.start()),
                           "{n} C1 control characters (U+0080-U+009F) read as latin-1: the file "
                           "is probably Windows-1252; read it with encoding cp1252",
                           len(_C1.findall(text)))
            return
        self.notes.add(self.path, "control", self.line_at(text, match.start()),
                       f"{{n}} control characters (first U+{ord(match.group()):04X}) kept "
                       "as they are", len(_CONTROL.findall(text)))


def decode_stream(path: Path, blocks: Iterator[bytes], encoding: str,
                  notes: TextNotes | None = None, where: str = "",
                  on_decoder: Callable[[Decoder], None] | None = None) -> Iterator[str]:
    """Decoded text of `blocks` (a file's bytes, in order), block by block."""
    decoder = Decoder(path, encoding, notes, where)
    if on_decoder is not None:
        on_decoder(decoder)
    for block in blocks:
        text = decoder.decode(block, final=False)
        if text:
            yield text
    text = decoder.decode(b"", final=True)
    if text:
        yield text


def preview(raw: bytes, encoding: str) -> str:
    """The first bytes of a file as text for a person to look at: the same byte-order marks and
    encodings as a read, line ends as "\\n", but never refused (bad bytes show as U+FFFD, NULs
    as U+FFFD too). `raw` may end inside a character."""
    check_encoding(encoding)
    codec, skip = sniff_bom(raw) or (_CODECS[encoding], 0)
    text = codecs.getincrementaldecoder(codec)(errors="replace").decode(raw[skip:], False)
    return clean_typed(text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_string(value: str, path: str | Path, line: int | None,
                 notes: TextNotes | None) -> str:
    """A string from a JSON file: lone surrogates become U+FFFD and NUL characters go, both
    reported in `notes` with the file and line."""
    if _SURROGATE.search(value):
        found = _SURROGATE.findall(value)
        value = _SURROGATE.sub("\ufffd", value)
        if notes is not None:
            notes.add(path, "surrogate", line,
                      f"{{n}} lone UTF-16 surrogates (such as \\u{ord(found[0]):04x}, half of an "
                      "emoji cut in two) replaced by U+FFFD", len(found))
    if "\x00" in value:
        if notes is not None:
            notes.add(path, "nul", line, "{n} NUL characters (U+0000) removed",
                      value.count("\x00"))
        value = value.replace("\x00", "")
    return value


def clean_typed(text: str) -> str:
    """Text typed by a user (a prompt, a question, a text to classify) as a tokenizer can take
    it: lone surrogates (bytes that were not UTF-8 on the command line, half an emoji) and NUL
    characters become U+FFFD. The length stays, so character offsets into it stay true."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text.replace("\x00", "\ufffd")
