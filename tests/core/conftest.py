"""Fixtures for the engine's tests: real Austen text from the bundled sample corpus, and a sink
that stops a run at a given step."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.core.data.samples import sample_corpus_files
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec, train_tokenizer
from lmstudio_app.core.training.control import RunControl
from lmstudio_app.core.training.sinks import RecordingSink

# Text a tokenizer must give back exactly: tabs, repeated and edge spaces, blank lines,
# accented letters, emoji, CJK, a literal control-symbol spelling.
ODD_TEXT = (
    "  leading spaces\tand a tab\n\n\n"
    "\tindented line   with  gaps  \n"
    "Caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \u00fcber \u2014 \u201cquotes\u201d \u2026\n"
    "emoji \U0001f600\U0001f389 and \u4e2d\u6587 and \u0928\u092e\u0938\u094d\u0924\u0947\n"
    "[MASK] <s> </s> <pad> [CLS]\n"
    "\n"
    "trailing   "
)


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    """The two bundled novels (Persuasion, Pride and Prejudice)."""
    files = sample_corpus_files()
    assert len(files) == 2
    return files


@pytest.fixture(scope="session")
def pride_text(sample_files: list[Path]) -> str:
    return next(f for f in sample_files if f.name == "prideprejudice.txt").read_text("utf-8")


@pytest.fixture(scope="session")
def austen_200k(pride_text: str) -> str:
    """About 200 KB of Pride and Prejudice, cut at a paragraph."""
    return pride_text[: pride_text.index("\n\n", 200_000) + 2]


@pytest.fixture(scope="session")
def austen_chapter(pride_text: str) -> str:
    """Chapter 3 of Pride and Prejudice, whole."""
    start = pride_text.index("Chapter 3\n")
    return pride_text[start: pride_text.index("Chapter 4\n")]


@pytest.fixture(scope="session")
def unigram_tokenizer(tmp_path_factory: pytest.TempPathFactory, austen_200k: str) -> Tokenizer:
    out = tmp_path_factory.mktemp("tok") / "unigram.model"
    docs = [austen_200k[i: i + 20_000] for i in range(0, len(austen_200k), 20_000)]
    return train_tokenizer(iter(docs), TokenizerSpec("unigram", 800), out)


@pytest.fixture
def small_corpus(tmp_path: Path, sample_files: list[Path]) -> Path:
    """A folder of ~200 KB: the start of each novel, as two files (about 7 documents)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for src, n in zip(sample_files, (80_000, 120_000), strict=True):
        text = src.read_text("utf-8")
        (folder / src.name).write_text(text[: text.index("\n\n", n) + 2], encoding="utf-8")
    return folder


class StopAt(RecordingSink):
    """Records events and asks the loop to stop once it reaches `step`."""

    def __init__(self, control: RunControl, step: int) -> None:
        super().__init__()
        self.control, self.at = control, step

    def step(self, m):
        super().step(m)
        if m.step == self.at:
            self.control.stop()


@pytest.fixture
def stop_at() -> type[StopAt]:
    """StopAt(control, step): a RecordingSink that stops the run at `step` (to test resuming)."""
    return StopAt
