"""House rules a machine checks: no import circles (lazy imports included), small modules, one
owner for the run folder's file names, every subpackage shipped in the wheel."""

from __future__ import annotations

import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lmstudio_app"
MAX_LINES = 600


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    modules = sorted(m for m in graph.modules if m.startswith("lmstudio_app"))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if not w.startswith("lmstudio_app"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def test_no_import_circles_even_through_lazy_imports():
    # grimp records imports inside functions too, so a lazy import that closes a circle counts.
    graph = grimp.build_graph("lmstudio_app")
    assert _cycles(graph) == []


def test_modules_stay_small():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_run_folder_file_names_have_one_owner():
    from lmstudio_app.core import runs

    names = [runs.CONFIG, runs.STATUS, runs.METRICS, runs.LOG, runs.RESULTS, runs.DATA_REPORT,
             runs.WEIGHTS, runs.BEST_WEIGHTS, runs.STATE, runs.TOKENIZER]
    # hf_import.py, llama_hf.py and hub.py name a Hugging Face folder's files, which GPT-2's
    # layout spells alike.
    owners = {PACKAGE / "core" / "runs.py", PACKAGE / "core" / "checkpoint.py",
              PACKAGE / "core" / "data" / "layout.py",
              PACKAGE / "core" / "interchange" / "hf_import.py",
              PACKAGE / "core" / "interchange" / "llama_hf.py",
              PACKAGE / "core" / "interchange" / "hub.py"}
    pattern = re.compile("|".join(re.escape(f'"{n}"') + "|" + re.escape(f"'{n}'")
                                  for n in names))
    spelled = [f"{p.relative_to(ROOT)}:{i}" for p in PACKAGE.rglob("*.py") if p not in owners
               for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if pattern.search(line)]
    assert spelled == []


def test_every_subpackage_is_shipped():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found - listed == set()
