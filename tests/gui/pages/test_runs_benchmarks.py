"""The Runs page's Benchmarks section: the results kept in the selected runs' folders, a row per
run and a column per task, so that two runs compare."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from lmstudio_app.core.runs.benchmarks import write_benchmark
from lmstudio_app.gui.pages.runs import RunsPage
from lmstudio_app.gui.pages.runs_benchmarks import HINT
from lmstudio_app.gui.state import AppState


def test_benchmarks_section_shows_and_compares_runs(qtbot, tmp_path, copied_runs):
    gpt, bert = sorted(p for p in copied_runs.iterdir() if p.is_dir())
    write_benchmark(gpt, {"settings": {"limit": 20},
                          "tasks": {"sentiment_mc": {"acc": 0.45, "acc_norm": 0.4, "n": 20}}})
    write_benchmark(bert, {"settings": {}, "tasks": {"hellaswag": {"acc": 0.25}}})
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    page = RunsPage(AppState(settings=settings, home=copied_runs.parent))
    qtbot.addWidget(page)
    panel = page.benchmarks_panel
    page.select_run(gpt)
    qtbot.waitUntil(lambda: panel.paths == [gpt], timeout=10_000)
    assert panel.cells() == [["acc 0.4500"]]
    assert "acc_norm: 0.4000" in panel.table.item(0, 0).toolTip()
    assert "limit: 20" in panel.table.item(0, 0).toolTip()
    page.select_runs([gpt, bert])
    qtbot.waitUntil(lambda: set(panel.paths) == {gpt, bert}, timeout=10_000)
    header = [panel.table.horizontalHeaderItem(c).text() for c in range(2)]
    assert header == ["hellaswag", "sentiment_mc"]
    rows = dict(zip(panel.paths, panel.cells(), strict=True))
    assert rows[gpt] == ["–", "acc 0.4500"] and rows[bert] == ["acc 0.2500", "–"]
    page.shutdown()


def test_a_run_without_benchmarks_shows_the_hint(qtbot, tmp_path, copied_runs):
    run = next(p for p in copied_runs.iterdir() if p.is_dir())
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    page = RunsPage(AppState(settings=settings, home=copied_runs.parent))
    qtbot.addWidget(page)
    page.select_run(run)
    qtbot.waitUntil(lambda: page.benchmarks_panel.paths == [Path(run)], timeout=10_000)
    assert page.benchmarks_panel.status.text() == HINT
    assert page.benchmarks_panel.table.columnCount() == 0
    page.shutdown()
