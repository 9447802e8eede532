"""The Playground with tiny real runs: streamed chat, stop, fill-the-mask."""

from __future__ import annotations

from lmstudio_app.core.config import OBJECTIVES


def test_chat_streams_a_reply_from_a_gpt_run(qtbot, tmp_path, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    assert page.current_panel() == "chat"
    assert OBJECTIVES["clm"].title in page.model_label.text()
    page.max_tokens_spin.setValue(24)
    page.seed = 1
    page.stop_at_eos = False
    page.message_edit.setPlainText("It is a truth")
    pieces = []
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000) as done:
        page.send_button.click()
        page._gen_job.sig_progress.connect(lambda choice: pieces.append(choice.text))
        assert page.is_generating() and page.stop_button.isEnabled()
    assert done.args == ["done"]
    assert len(pieces) >= 5 and page.last_reply() == "".join(pieces)
    transcript = page.transcript.toPlainText()
    assert transcript.startswith("It is a truth") and "".join(pieces).strip() in transcript
    assert page.sent_view.toPlainText() == "It is a truth"

    # The second message is sent with the conversation so far, and the page shows that text.
    page.message_edit.setPlainText("Mr. Darcy")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        page.send_button.click()
    sent = page.sent_view.toPlainText()
    assert sent.startswith("It is a truth" + "".join(pieces)) and sent.endswith("\nMr. Darcy")
    page.clear_button.click()
    assert page.transcript.toPlainText() == "" and page.conversation() == ""
    page.shutdown()


def test_stop_during_generation(qtbot, tmp_path, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    page.max_tokens_spin.setValue(4000)
    page.stop_at_eos = False
    page.message_edit.setPlainText("She")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000) as done:
        page.send_button.click()
        with qtbot.waitSignal(page._gen_job.sig_progress, timeout=10000):
            pass
        page.stop_button.click()
    assert done.args == ["stopped"]
    assert 0 < len(page.last_reply()) and page.transcript.toPlainText().rstrip().endswith(
        "[stopped]")
    assert not page.is_generating() and page.send_button.isEnabled()
    page.shutdown()


def test_fill_mask_shows_five_predictions_for_a_bert_run(qtbot, tmp_path, engine_runs,
                                                         playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.bert)
    assert page.current_panel() == "fill-mask"
    # A BERT run does not chat: the message names both objectives by their titles.
    page.message_edit.setPlainText("It is a truth")
    page.send()
    assert not page.is_generating()
    assert OBJECTIVES["mlm"].title in page.error_text()
    assert OBJECTIVES["clm"].title in page.error_text()
    page.mask_edit.setText("She was a [MASK] woman.")
    with qtbot.waitSignal(page.sig_predictions_shown, timeout=10000) as shown:
        page.mask_button.click()
    predictions = shown.args[0]
    assert len(predictions) == 5
    probs = [p for _, p in predictions]
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    assert page.results_grid.rowCount() >= 5

    # A text without [MASK] ends as a readable message on the page.
    qtbot.waitUntil(page.mask_button.isEnabled, timeout=5000)
    page.mask_edit.setText("no mask here")
    page.mask_button.click()
    qtbot.waitUntil(lambda: page.error_text() != "" and page.mask_button.isEnabled(),
                    timeout=5000)
    assert "[MASK]" in page.error_text() and "Traceback" not in page.error_text()
    page.shutdown()
