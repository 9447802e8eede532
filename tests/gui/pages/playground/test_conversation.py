"""The Playground's chat as a conversation for a chat-tuned run: its template applied with the
system prompt, turns kept, token probabilities on every piece; a base run keeps continue-text,
and the panel says which mode it is in and why."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QSpinBox

from lmstudio_app.core.data.chat_template import CHATML, render
from lmstudio_app.gui.find import button, labelled, named


def test_a_chat_tuned_run_talks_in_turns(qtbot, sft_run, playground_on):
    page = playground_on(sft_run["sft"].parent, sft_run["sft"])
    assert page.current_panel() == "chat"
    mode = named(page, "Chat mode", QLabel).text()
    assert mode.startswith("Conversation mode") and "<|im_end|>" in mode
    system = named(page, "System prompt", QLineEdit)
    assert system.isVisibleTo(page)
    system.setText("Answer in one word.")
    labelled(page, "Max new tokens", QSpinBox).setValue(6)
    page.seed = 1
    named(page, "Message", QPlainTextEdit).setPlainText("What is the sentiment of: rain")
    pieces = []
    with qtbot.waitSignal(page.sig_reply_finished, timeout=30000) as done:
        button(page, "Send").click()
        assert page.is_generating()  # the reply is written in the background
        page._gen_job.sig_progress.connect(pieces.append)
    assert done.args == ["done"]
    first = [{"role": "system", "content": "Answer in one word."},
             {"role": "user", "content": "What is the sentiment of: rain"}]
    sent = named(page, "Last prompt sent", QPlainTextEdit).toPlainText()
    assert sent == render(CHATML, first, add_generation_prompt=True)
    assert all(0.0 <= p.probability <= 1.0 and p.top for p in pieces)
    reply = page.last_reply()
    assert page.chat_panel.messages == [first[1], {"role": "assistant", "content": reply}]

    # The second turn is sent with the first one, reply included, under the template.
    named(page, "Message", QPlainTextEdit).setPlainText("And of: sun")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=30000):
        button(page, "Send").click()
    second = [*first, {"role": "assistant", "content": reply},
              {"role": "user", "content": "And of: sun"}]
    assert named(page, "Last prompt sent", QPlainTextEdit).toPlainText() == \
        render(CHATML, second, add_generation_prompt=True)
    button(page, "Clear").click()
    assert page.chat_panel.messages == [] and page.conversation() == ""
    page.shutdown()


def test_a_base_run_keeps_continue_text(qtbot, sft_run, playground_on):
    page = playground_on(sft_run["gpt"].parent, sft_run["gpt"])
    mode = named(page, "Chat mode", QLabel).text()
    assert mode.startswith("Continue-text mode") and "no chat template" in mode
    assert not named(page, "System prompt", QLineEdit).isVisibleTo(page)
    page.shutdown()
