"""The Runs page's figures columns, notes and tags, and the config difference of two runs, over
real run folders."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from lmstudio_app.core import runs
from lmstudio_app.core.runs.table import config_differences, run_figures
from lmstudio_app.core.util.units import human_bytes
from lmstudio_app.gui.find import button
from lmstudio_app.gui.pages.runs import COLUMNS

from .test_runs import make_page


def shown_page(qtbot, tmp_path, home):
    """The page on screen: it reads the runs' figures once shown."""
    page, state = make_page(qtbot, tmp_path, home)
    page.show()
    qtbot.waitExposed(page)
    return page, state


def _column(name: str) -> int:
    return COLUMNS.index(name)


def test_the_table_shows_each_runs_final_figures_and_sorts_by_them(qtbot, tmp_path,
                                                                  engine_runs):
    page, _ = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    assert page.figures == {} and page._figures_job is None  # hidden: nothing read yet
    page.show()
    qtbot.waitUntil(lambda: bool(page.figures), timeout=20000)
    gpt = run_figures(engine_runs.gpt)
    row = page.row_text(engine_runs.gpt)
    assert row[_column("Final loss")] == f"{gpt.final_loss:.4f}"
    assert row[_column("Best score")] == f"{gpt.val_bpb:.3f} bits/byte"
    assert row[_column("Size")] == human_bytes(gpt.size_bytes)
    assert row[_column("Snapshots")] == f"{gpt.snapshots} · {human_bytes(gpt.snapshot_bytes)}"
    assert gpt.snapshots >= 2

    col = _column("Final loss")
    losses = {p: run_figures(p).final_loss for p in (engine_runs.gpt, engine_runs.bert)}
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        page.table.sortItems(col, order)
        shown = [page.table.item(r, col).text() for r in range(page.table.rowCount())]
        ranked = sorted(losses.values(), reverse=order == Qt.SortOrder.DescendingOrder)
        assert shown == [f"{v:.4f}" for v in ranked]
    page.shutdown()


def test_a_note_and_tags_are_saved_in_the_run_folder(qtbot, tmp_path, copied_runs,
                                                     engine_runs):
    page, _ = shown_page(qtbot, tmp_path, copied_runs.parent)
    gpt = copied_runs / engine_runs.gpt.name
    qtbot.waitUntil(lambda: bool(page.figures), timeout=20000)
    page.select_run(gpt)
    panel = page.notes_panel
    assert panel.run == gpt and panel.save_button.isEnabled()
    panel.note_edit.setPlainText("baseline: 30 steps of the tiny preset")
    panel.tags_edit.setText("baseline, tiny, , tiny")
    with qtbot.waitSignal(panel.sig_saved, timeout=10000):
        panel.save_button.click()
    qtbot.waitUntil(lambda: panel.job is None)
    assert json.loads((gpt / runs.NOTES).read_text()) == {
        "note": "baseline: 30 steps of the tiny preset", "tags": ["baseline", "tiny"]}
    assert page.row_text(gpt)[_column("Tags")] == "baseline, tiny"
    # Another run and back: the note is read again.
    page.select_run(copied_runs / engine_runs.bert.name)
    assert panel.note_edit.toPlainText() == ""
    page.select_run(gpt)
    assert panel.note_edit.toPlainText() == "baseline: 30 steps of the tiny preset"
    page.shutdown()


def test_two_selected_runs_compare_setting_by_setting(qtbot, tmp_path, engine_runs):
    page, state = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    overlays = []
    state.sig_compare_run.connect(overlays.append)
    page.select_runs([engine_runs.gpt, engine_runs.bert])
    assert page.selected_path() is None and len(page.selected_paths()) == 2
    assert button(page, "Compare").isEnabled() and not button(page, "Open").isEnabled()
    with qtbot.waitSignal(page.sig_difference_shown, timeout=10000) as shown:
        button(page, "Compare").click()
    a, b = page.selected_paths()
    expected = config_differences(a, b)
    assert shown.args[0] == expected and overlays == []
    keys = [r[0] for r in page.diff_view.rows()]
    assert "objective" in keys and "model.arch" in keys
    assert "train.learning_rate" not in keys  # the same in both: not shown
    assert all(r[1] != r[2] for r in page.diff_view.rows())
    assert page.diff_view.table.horizontalHeaderItem(1).text() == a.name
    page.shutdown()
