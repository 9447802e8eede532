"""Fixtures shared by every test folder: small real text and a prepared token store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmstudio_app.core.util.home import HOME_ENV

AUSTEN_CANDIDATES = [
    Path(__file__).resolve().parents[2] / "shared" / "data" / "austen",
    Path(__file__).resolve().parents[1] / "resources" / "corpus",
]


def austen_text(n_chars: int = 150_000) -> str:
    """A slice of real prose: the shared Austen novels, else the bundled sample corpus."""
    for folder in AUSTEN_CANDIDATES:
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if files:
            return files[0].read_text(encoding="utf-8")[:n_chars]
    raise RuntimeError("no sample text found")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m lmstudio_app ARGS` in `cwd`, as a user runs it, output captured; the app's
    data folder (where runs go unless told) is `cwd/home`, never the tester's own."""
    env = {**os.environ, HOME_ENV: str(Path(cwd).resolve() / "home")}
    return subprocess.run([sys.executable, "-m", "lmstudio_app", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def austen_corpus(tmp_path_factory) -> Path:
    """A folder holding austen.txt: ~150 KB of real prose (austen_text())."""
    folder = tmp_path_factory.mktemp("austen")
    (folder / "austen.txt").write_text(austen_text(), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory, austen_corpus) -> Path:
    """A real prepared data folder (unigram, 400 pieces) over austen_corpus: the one store the
    engine's tests and the window's tests train on."""
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec

    root = tmp_path_factory.mktemp("prepared")
    cfg = PrepareConfig(sources=[str(austen_corpus / "austen.txt")], out_dir=str(root / "data"),
                        tokenizer=TokenizerSpec(kind="unigram", vocab_size=400),
                        val_fraction=0.1)
    return prepare(cfg).out_dir


def pytest_configure(config):
    # Two cores on CI: keep torch from oversubscribing them when tests run training.
    os.environ.setdefault("OMP_NUM_THREADS", "2")


# Export / import fixtures, shared by several folders (imported last: they use austen_text).
from tests.chat_fixtures import sft_run  # noqa: E402, F401
from tests.interchange_fixtures import hf_bert, hf_gpt2, tiny_runs  # noqa: E402, F401
from tests.lora_fixtures import lora_bases  # noqa: E402, F401
