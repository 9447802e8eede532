"""Fine-tuned runs in the window, on tiny real runs: the Playground's classify and QA panels."""

from __future__ import annotations

import math

from PySide6.QtCore import QSettings

from lmstudio_app.gui.pages.playground import PlaygroundPage
from lmstudio_app.gui.state import AppState
from lmstudio_app.gui.widgets.task_panels import utf16_offset
from tests.gui import fixtures_finetune as ff

finetune_runs = ff.finetune_runs


def playground_on(qtbot, tmp_path, runs_root, run):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=runs_root.parent)
    page = PlaygroundPage(state)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.sig_model_loaded, timeout=20000,
                          check_params_cb=lambda path: path == run):
        state.sig_use_run.emit(run)
    return page


def test_classify_panel_shows_one_bar_per_label_summing_to_one(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.classify)
    assert page.current_panel() == "classify" and "classifier" in page.model_label.text()
    panel = page.classify_panel
    panel.text_edit.setPlainText("I loved this film, what a joy.")
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
        assert not panel.button.isEnabled()  # one prediction at a time
    result = got.args[0]
    assert set(panel.bars.values) == {"negative", "neutral", "positive"}
    assert math.isclose(sum(panel.bars.values.values()), 1.0, abs_tol=1e-5)
    assert all(0 <= bar.value() <= 1000 for bar in panel.bars.bars.values())
    assert result["label"] == max(panel.bars.values, key=panel.bars.values.get)
    assert result["label"] in panel.result_label.text()
    qtbot.waitUntil(panel.button.isEnabled)

    # An empty text is a readable message, not a traceback.
    panel.text_edit.setPlainText("   ")
    panel.button.click()
    qtbot.waitUntil(lambda: "empty" in page.error_text(), timeout=10000)
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()


def test_qa_panel_highlights_the_answer_span(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.qa)
    assert page.current_panel() == "qa" and page.qa_panel.extractive
    panel = page.qa_panel
    context = "Zoë met the Bennets 🎉 at Longbourn, near Meryton, on a fine spring morning."
    panel.context_edit.setPlainText(context)
    panel.question_edit.setText("Where did Zoë meet the Bennets?")
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
    result = got.args[0]
    assert context[result["start"]:result["end"]] == result["answer"]
    assert f"{result['score']:.2f}" in panel.answer_label.text()
    if result["start"] < result["end"]:
        assert panel.span == (result["start"], result["end"])
        assert panel.highlighted_text() == result["answer"]
    # Offsets past an emoji: Qt counts two units for it, Python one.
    assert utf16_offset(context, len(context)) == len(context) + 1
    panel.highlight((context.index("Longbourn"), context.index("Longbourn") + 9), context)
    assert panel.highlighted_text() == "Longbourn"
    # Editing the context drops a highlight that no longer matches it.
    panel.context_edit.setPlainText("Another text.")
    assert panel.span is None and panel.highlighted_text() == ""

    qtbot.waitUntil(panel.button.isEnabled)
    panel.question_edit.setText(" ")
    panel.button.click()
    qtbot.waitUntil(lambda: "question is empty" in page.error_text(), timeout=10000)
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()


def test_task_panels_refuse_a_pretrained_run(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.qa)
    page.classify_text("hello")  # the classify panel is hidden, but the call is guarded
    assert "not a classify run" in page.error_text()
    assert page._task_job is None
