"""House rules a machine checks: no import circles (lazy imports included), small modules, one
owner for the run folder's file names, every subpackage shipped in the wheel."""

from __future__ import annotations

import re
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lmstudio_app"
MAX_LINES = 600


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (networkx's, after Tarjan)."""
    ours = nx.DiGraph()
    for m in graph.modules:
        if m.startswith("lmstudio_app"):
            ours.add_node(m)
            ours.add_edges_from((m, w) for w in graph.find_modules_directly_imported_by(m)
                                if w.startswith("lmstudio_app"))
    return sorted(sorted(c) for c in nx.strongly_connected_components(ours) if len(c) > 1)


def test_cycles_finds_a_circle_and_only_the_modules_in_it():
    graph = grimp.ImportGraph()
    for importer, imported in [("lmstudio_app.a", "lmstudio_app.b"),
                               ("lmstudio_app.b", "lmstudio_app.c"),
                               ("lmstudio_app.c", "lmstudio_app.a"),
                               ("lmstudio_app.c", "lmstudio_app.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [["lmstudio_app.a", "lmstudio_app.b", "lmstudio_app.c"]]


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
    owners = {PACKAGE / "core" / "runs" / "names.py", PACKAGE / "core" / "runs" / "checkpoint.py",
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
