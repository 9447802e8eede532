"""The Playground with tiny real runs: streamed chat, stop, fill-the-mask."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QSpinBox

from lmstudio_app.core.config import OBJECTIVES
from lmstudio_app.gui.find import button, group, labelled, named
from lmstudio_app.gui.pages.playground.shaded_text import ShadedText


def test_chat_streams_a_reply_from_a_gpt_run(qtbot, tmp_path, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    assert page.current_panel() == "chat"
    assert OBJECTIVES["clm"].title in page.model_label.text()
    labelled(page, "Max new tokens", QSpinBox).setValue(24)
    page.seed = 1
    page.stop_at_eos = False
    named(page, "Message", QPlainTextEdit).setPlainText("It is a truth")
    pieces = []
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000) as done:
        button(page, "Send").click()
        page._gen_job.sig_progress.connect(lambda choice: pieces.append(choice.text))
        assert page.is_generating() and button(page, "Stop the reply").isEnabled()
    assert done.args == ["done"]
    assert len(pieces) >= 5 and page.last_reply() == "".join(pieces)
    transcript = named(page, "Conversation", ShadedText).toPlainText()
    assert transcript.startswith("It is a truth") and "".join(pieces).strip() in transcript
    assert named(page, "Last prompt sent", QPlainTextEdit).toPlainText() == "It is a truth"

    # The second message is sent with the conversation so far, and the page shows that text.
    named(page, "Message", QPlainTextEdit).setPlainText("Mr. Darcy")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        button(page, "Send").click()
    sent = named(page, "Last prompt sent", QPlainTextEdit).toPlainText()
    assert sent.startswith("It is a truth" + "".join(pieces)) and sent.endswith("\nMr. Darcy")
    button(page, "Clear").click()
    assert named(page, "Conversation", ShadedText).toPlainText() == "" and page.conversation() == ""
    page.shutdown()


def test_stop_during_generation(qtbot, tmp_path, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    labelled(page, "Max new tokens", QSpinBox).setValue(4000)
    page.stop_at_eos = False
    named(page, "Message", QPlainTextEdit).setPlainText("She")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000) as done:
        button(page, "Send").click()
        with qtbot.waitSignal(page._gen_job.sig_progress, timeout=10000):
            pass
        button(page, "Stop the reply").click()
    assert done.args == ["stopped"]
    conversation = named(page, "Conversation", ShadedText).toPlainText()
    assert 0 < len(page.last_reply()) and conversation.rstrip().endswith("[stopped]")
    assert not page.is_generating() and button(page, "Send").isEnabled()
    page.shutdown()


def test_fill_mask_shows_five_predictions_for_a_bert_run(qtbot, tmp_path, engine_runs,
                                                         playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.bert)
    assert page.current_panel() == "fill-mask"
    # A BERT run does not chat: the message names both objectives by their titles.
    named(page, "Message", QPlainTextEdit).setPlainText("It is a truth")
    page.send()
    assert not page.is_generating()
    assert OBJECTIVES["mlm"].title in page.error_text()
    assert OBJECTIVES["clm"].title in page.error_text()
    named(page, "Sentence with [MASK]", QLineEdit).setText("She was a [MASK] woman.")
    with qtbot.waitSignal(page.sig_predictions_shown, timeout=10000) as shown:
        button(page, "Fill the mask").click()
    predictions = shown.args[0]
    assert len(predictions) == 5
    probs = [p for _, p in predictions]
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    assert group(page, "Predictions for [MASK]").layout().rowCount() >= 5

    # A text without [MASK] ends as a readable message on the page.
    qtbot.waitUntil(button(page, "Fill the mask").isEnabled, timeout=5000)
    named(page, "Sentence with [MASK]", QLineEdit).setText("no mask here")
    button(page, "Fill the mask").click()
    qtbot.waitUntil(lambda: page.error_text() != "" and button(page, "Fill the mask").isEnabled(),
                    timeout=5000)
    assert "[MASK]" in page.error_text() and "Traceback" not in page.error_text()
    page.shutdown()
