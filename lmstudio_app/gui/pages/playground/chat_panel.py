"""Chat with a GPT run, honestly: a pretrained language model continues text.

The prompt is the conversation so far as plain text plus the new message, the model's
continuation is the reply, and the exact text sent is shown beside it with the sampling
settings. The page runs the generation (one job holds the model at a time) and hands each
generated token here as it comes (a core TokenChoice): its piece is shaded by the probability
the sampler gave it, and hovering or clicking it shows the likeliest alternatives and the
entropy.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...state import AppState
from .conversation_mode import ModeBox
from .enter_sends import EnterSends
from .sampling_box import SamplingBox
from .shaded_text import ProbabilityLegend, ShadedText

MAX_PROMPT_CHARS = 4000  # the conversation sent is cut to its end; the model sees its window


class ChatPanel(QWidget):
    """Transcript and message on the left; sampling settings and the last prompt on the right."""

    sig_send = Signal()  # Send was asked for (the button, Enter or Ctrl+Enter)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.conversation = ""  # the plain text so far: every message and every reply
        self.messages: list[dict[str, str]] = []  # conversation mode: the turns so far
        self.mode_box = ModeBox()
        self.reply_parts: list[str] = []
        self.transcript = ShadedText()
        self.transcript.setAccessibleName("Conversation")
        self.transcript.sig_token_chosen.connect(self._show_chosen)
        self.transcript.setPlaceholderText("The conversation appears here.")
        self.message_edit = QPlainTextEdit()
        self.message_edit.setAccessibleName("Message")
        self.message_edit.setPlaceholderText("Write the beginning of a text, e.g. "
                                             "\"It is a truth universally\"")
        self.message_edit.setMaximumHeight(80)
        self.message_edit.setToolTip("Enter sends; Shift+Enter starts a new line")
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("Send (Enter)")
        EnterSends(self.message_edit, self.sig_send.emit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop the reply")  # the comparison has a Stop too
        self.clear_button = QPushButton("Clear")
        self.stop_button.setEnabled(False)
        self.send_button.clicked.connect(self.sig_send)
        buttons = QVBoxLayout()
        for b in (self.send_button, self.stop_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        entry = QHBoxLayout()
        entry.addWidget(self.message_edit, 1)
        entry.addLayout(buttons)

        self.sampling = SamplingBox(state)

        self.sent_view = QPlainTextEdit()
        self.sent_view.setAccessibleName("Last prompt sent")
        self.sent_view.setReadOnly(True)
        self.sent_view.setPlaceholderText("The exact text sent to the model appears here.")
        sent_box = QGroupBox("Last prompt sent (the model continues this text)")
        sv = QVBoxLayout(sent_box)
        sv.addWidget(self.sent_view)

        # One line under the transcript: the piece clicked, its probability and alternatives.
        self.chosen_label = QLabel()
        self.chosen_label.setWordWrap(True)
        self.chosen_label.setTextFormat(Qt.TextFormat.RichText)
        side = QVBoxLayout()
        side.addWidget(self.sampling)
        side.addWidget(sent_box, 1)
        main = QVBoxLayout()
        main.addWidget(self.mode_box)
        main.addWidget(self.transcript, 1)
        self.legend = ProbabilityLegend("probability")
        main.addWidget(self.legend)
        main.addWidget(self.chosen_label)
        main.addLayout(entry)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(main, 3)
        row.addLayout(side, 1)

    def sampling_settings(self, seed: int | None, stop_at_eos: bool) -> dict[str, Any]:
        return self.sampling.settings(seed, stop_at_eos)

    def prompt_for(self, message: str) -> str:
        """The conversation so far, the new message on its own line, cut to its last part."""
        prompt = self.conversation
        if prompt and message and not prompt.endswith("\n"):
            prompt += "\n"
        prompt += message
        return prompt[-MAX_PROMPT_CHARS:]

    def begin_turn(self) -> list[dict[str, str]]:
        """Conversation mode: take the written message as the user's turn; the messages to
        answer (the system prompt first), shown as the template renders them."""
        message = self.message_edit.toPlainText()
        self.messages.append({"role": "user", "content": message})
        messages = self.mode_box.with_system(self.messages)
        self.sent_view.setPlainText(self.mode_box.format.render(messages, True))
        self.message_edit.clear()
        self.append(f"{message}\n", user=True)
        self.conversation += f"{message}\n"
        self.reply_parts = []
        self.set_generating(True)
        return messages

    def begin_reply(self) -> str | list[dict[str, str]]:
        """Take the written message into the conversation; the prompt to send (the messages
        in conversation mode)."""
        if self.mode_box.conversation:
            return self.begin_turn()
        message = self.message_edit.toPlainText()
        prompt = self.prompt_for(message)
        self.sent_view.setPlainText(prompt)
        self.message_edit.clear()
        if self.conversation and message and not self.conversation.endswith("\n"):
            self.append("\n", user=False)
        self.append(message, user=True)
        self.conversation = prompt
        self.reply_parts = []
        self.set_generating(True)
        return prompt

    def add_piece(self, choice: Any) -> None:
        """One generated token (a core TokenChoice), shaded by its probability."""
        self.reply_parts.append(choice.text)
        self.transcript.add_choice(choice)

    def _show_chosen(self, index: int) -> None:
        self.chosen_label.setText(self.transcript.tokens[index].summary)

    def end_reply(self, stopped: bool) -> None:
        """What was shown is what the conversation holds, stopped or not."""
        self.conversation += "".join(self.reply_parts)
        if self.mode_box.conversation:
            self.messages.append({"role": "assistant", "content": "".join(self.reply_parts)})
        if stopped:
            self.append(" [stopped]", user=False)
        self.append("\n", user=False)
        if self.conversation and not self.conversation.endswith("\n"):
            self.conversation += "\n"
        self.set_generating(False)

    def set_generating(self, on: bool) -> None:
        """Stop while a reply is written, Clear otherwise (the page enables Send)."""
        self.stop_button.setEnabled(on)
        self.clear_button.setEnabled(not on)

    def append(self, text: str, user: bool) -> None:
        self.transcript.add_plain(text, bold=user)

    def clear(self) -> None:
        """Forget the conversation (the page asks only while no reply is written)."""
        self.conversation = ""
        self.messages = []
        self.reply_parts = []
        self.transcript.clear()
        self.sent_view.clear()
