"""The Sweep page: a real sweep over a finished run's settings in a background job, the live
table of trials, the curves overlaid, the best written for --config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from lmstudio_app.core.runs.metrics import read_metrics
from lmstudio_app.gui.state import AppState

pytest.importorskip("optuna", reason="pip install 'lmstudio-app[sweep]'")
from lmstudio_app.gui.pages.sweep import SweepPage  # noqa: E402


def own_best(run_dir: Path) -> float:
    return min(r["val_loss"] for r in read_metrics(run_dir) if r.get("kind") == "eval")


def test_sweep_page_trains_the_trials_live_and_applies_the_best(qtbot, tmp_path, copied_runs):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=copied_runs.parent)
    page = SweepPage(state)
    qtbot.addWidget(page)
    gpt = next(i for i in range(page.base_combo.count()) if "gpt" in page.base_combo.itemText(i))
    page.base_combo.setCurrentIndex(gpt)
    page.params_edit.setPlainText("learning_rate=1e-4,3e-3\n")
    page.steps_spin.setValue(10)
    seen_rows: list[int] = []
    assert page.start()
    assert not page.start_button.isEnabled() and page.stop_button.isEnabled()
    page.job.sig_progress.connect(lambda e: seen_rows.append(page.table.rowCount()))
    qtbot.waitUntil(lambda: page.job is None, timeout=240_000)
    assert page.result is not None and len(page.result.trials) == 2
    rows = page.rows()
    assert [r[0] for r in rows] == ["0", "1"]
    assert {r[1] for r in rows} == {"0.0001", "0.003"}
    for r, trial in zip(rows, page.result.trials, strict=True):
        assert r[-1] == trial.note and r[-2] == str(trial.step)
        assert float(r[2]) == pytest.approx(own_best(Path(trial.run_dir)), abs=5e-5)
        evals = [e for e in read_metrics(Path(trial.run_dir)) if e.get("kind") == "eval"]
        xs, ys, _ = page.curves[trial.number]
        assert xs == [float(e["step"]) for e in evals]  # one point per evaluation, live
        assert ys == pytest.approx([e["val_loss"] for e in evals])
    assert 1 in seen_rows  # the table grew while the sweep ran
    assert page.apply_button.isEnabled() and page.start_button.isEnabled()
    page.apply_best(tmp_path / "best.json")
    best = page.result.best
    run = json.loads((tmp_path / "best.json").read_text("utf-8"))["run"]
    assert run["train"]["learning_rate"] == best.params["learning_rate"]
    assert "best.json" in page.status.text()
    page.shutdown()


def test_refused_fields_say_why_and_start_nothing(qtbot, tmp_path, copied_runs):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    page = SweepPage(AppState(settings=settings, home=copied_runs.parent))
    qtbot.addWidget(page)
    page.params_edit.setPlainText("nope=1,2")
    assert not page.start()
    assert "unknown field to sweep" in page.status.text() and page.job is None
    page.shutdown()
