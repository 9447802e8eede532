"""Which mode the chat panel is in and why: a conversation for a chat-tuned run (its template
applied, a system prompt, turns kept, each reply stopping at the end-of-turn token), or the
continue-text mode of a base model."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

BASE_NOTE = ("A pretrained model continues text. Each message is added to the conversation so "
             "far, and the model's continuation is its reply.")


class ModeBox(QWidget):
    """The mode line and, in conversation mode, the system prompt field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode_label = QLabel(BASE_NOTE)
        self.mode_label.setAccessibleName("Chat mode")
        self.mode_label.setWordWrap(True)
        self.system_edit = QLineEdit()
        self.system_edit.setAccessibleName("System prompt")
        self.system_edit.setPlaceholderText("System prompt (optional), e.g. \"Answer in one "
                                            "word.\"")
        self.system_edit.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mode_label)
        layout.addWidget(self.system_edit)
        self.format: Any = None  # core ChatFormat in conversation mode, None otherwise

    def set_mode(self, mode: Any) -> None:
        """Show the mode of a loaded run (a core ChatMode), or the base note for None."""
        self.format = mode.format if mode is not None else None
        if mode is None:
            self.mode_label.setText(BASE_NOTE)
        elif mode.conversation:
            self.mode_label.setText(f"Conversation mode: this run is {mode.why}.")
        else:
            self.mode_label.setText(f"Continue-text mode: this run is {mode.why}. {BASE_NOTE}")
        self.system_edit.setVisible(self.format is not None)

    @property
    def conversation(self) -> bool:
        return self.format is not None

    def with_system(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The messages with the system prompt first, when one is written."""
        system = self.system_edit.text().strip()
        return [{"role": "system", "content": system}, *messages] if system else list(messages)
