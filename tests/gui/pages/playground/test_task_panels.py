"""The Playground's panels for fine-tuned runs, on tiny real runs: classify a text, answer a
question with its span highlighted, refuse a run of another task, and few-shot prompting of a
GPT run."""

from __future__ import annotations

import math

from lmstudio_app.core.config import OBJECTIVES
from lmstudio_app.gui.pages.playground.task_panels import few_shot_prompt, first_line, utf16_offset


def test_classify_panel_shows_one_bar_per_label_summing_to_one(qtbot, tmp_path, finetune_runs,
                                                               playground_on):
    page = playground_on(finetune_runs.runs_root, finetune_runs.classify)
    assert page.current_panel() == "classify"
    assert OBJECTIVES["classify"].title in page.model_label.text()
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


def test_qa_panel_highlights_the_answer_span(qtbot, tmp_path, finetune_runs, playground_on):
    page = playground_on(finetune_runs.runs_root, finetune_runs.qa)
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


def test_task_panels_refuse_a_pretrained_run(qtbot, tmp_path, finetune_runs, playground_on):
    page = playground_on(finetune_runs.runs_root, finetune_runs.qa)
    page.classify_text("hello")  # the classify panel is hidden, but the call is guarded
    assert "not a classify run" in page.error_text()
    assert page._task_job is None
    page.shutdown()



def test_few_shot_panel_builds_an_editable_prompt_and_generates(qtbot, tmp_path, playground_on,
                                                                engine_runs):
    engine = engine_runs
    page = playground_on(engine.runs_root, engine.gpt)
    assert page.current_panel() == "chat"
    page.gpt_tabs.setCurrentIndex(1)
    panel = page.few_shot_panel
    panel.query_edit.setText("A dull, grey afternoon.")
    prompt = panel.build_prompt()
    assert prompt == few_shot_prompt(panel.shots(), "A dull, grey afternoon.", "Text: ",
                                     "Sentiment: ")
    assert prompt.count("Text: ") == 4 and prompt.endswith("Text: A dull, grey afternoon."
                                                           "\nSentiment:")
    panel.prompt_edit.setPlainText(prompt + " ")  # the user's edit is what is sent
    panel.max_tokens.setValue(6)
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
    choices = got.args[0]
    assert 0 < len(choices) <= 6  # greedy, at most six pieces of the tiny model's prose
    text = "".join(c.text for c in choices)
    assert panel.answer_label.text().startswith("Answer: ") and \
        panel.raw_view.toPlainText() == text
    # Each piece is shaded by its probability, with the alternatives as its details.
    assert [t.data for t in panel.raw_view.tokens] == [c for c in choices if c.text]
    assert f"{choices[0].probability:.1%}" in panel.raw_view.tokens[0].details
    assert first_line("  pos\nText: x") == "pos"
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()
