"""The labeled-data dialog reads a conversation file with the engine's loader and shows its
report (rows, turns, problems by line); the fine-tuning form offers task sft."""

from __future__ import annotations

import json

from lmstudio_app.core.config import OBJECTIVES
from lmstudio_app.gui.pages.data.labeled_dialog import LabeledDataDialog
from lmstudio_app.gui.pages.train.finetune_form import sample_for


def test_the_dialog_checks_a_conversation_file(qtbot, tmp_path):
    path = tmp_path / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello"}]},
            {"messages": [{"role": "user", "content": "Only a question"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dialog = LabeledDataDialog(path, "chat")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    report = dialog.report
    assert (report.rows_read, report.rows_used) == (2, 1)
    text = dialog.report_view.toPlainText()
    assert "line 2: no assistant turn" in text and "2 turns" in text
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    dialog.shutdown()


def test_the_form_offers_sft_with_the_bundled_instruction_set():
    assert OBJECTIVES["sft"].family == "chat"
    assert sample_for("sft").name == "instructions.jsonl"
