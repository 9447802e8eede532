"""A mistake shown where it was made: the controls of the settings a UserError names, outlined.

The engine names the configuration field at fault (`UserError.fields`: "n_embd", "encoding",
"text_col", ...), never a label of the window. Each form keeps one table from those field names
to its controls and labels; `FieldMarks` outlines the controls named, puts the reason in their
tooltips under the form's own label ("Width (n_embd): ..."), and words the message the form
shows in its own labels: the config names of its table become the labels the reader sees
("Width 32 is not divisible by Attention heads 3: ..."), and a field named but not mentioned
gets its label in front, so the reader knows which setting to change. The fields at fault come
from the error's data (`UserError.fields`), never from its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from PySide6.QtWidgets import QWidget

_OUTLINE = "{cls} {{ border: 2px solid #d9372b; border-radius: 3px; padding: 1px; }}"


class Control(NamedTuple):
    """One setting of a form: its label as the form shows it, and the widget that edits it."""

    label: str
    widget: QWidget


class FieldMarks:
    """One form's table (config field name -> Control) and the outlines it shows.

    A control's own tooltip, as set when the table is made, comes back when its mark goes.
    """

    def __init__(self, controls: Mapping[str, Control]) -> None:
        self.controls = dict(controls)
        self._tips = {name: c.widget.toolTip() for name, c in self.controls.items()}
        self.marked: dict[str, str] = {}  # field -> the reason shown on its control

    def mark(self, reasons: Mapping[str, str]) -> None:
        """Outline the fields in `reasons` (field -> message); clear every other field's mark."""
        self.marked = {k: v for k, v in reasons.items() if k in self.controls}
        for name, (label, widget) in self.controls.items():
            reason = self.marked.get(name)
            widget.setStyleSheet(_OUTLINE.format(cls=widget.metaObject().className())
                                 if reason else "")
            widget.setToolTip(f"{label} ({name}): {reason}" if reason else self._tips[name])

    def clear(self) -> None:
        self.mark({})

    def show(self, message: str, fields: Iterable[str]) -> str:
        """Outline `fields` with `message`; the message as the form shows it (see `describe`)."""
        fields = tuple(fields)
        self.mark(dict.fromkeys(fields, message))
        return self.describe(message, fields)

    def labels(self, fields: Iterable[str]) -> list[str]:
        """The form's labels of those fields it has, in order."""
        return [self.controls[f].label for f in dict.fromkeys(fields) if f in self.controls]

    def words(self, message: str) -> str:
        """The message with the form's labels for the config names of its table it mentions:
        "n_embd=32 is not divisible by n_head=3" -> "Width 32 is not divisible by Attention
        heads 3". A name that is a plain word ("encoding") is a name only before "="."""
        if not self.controls:
            return message
        names = "|".join(re.escape(n) for n in sorted(self.controls, key=len, reverse=True))

        def label(m: re.Match[str]) -> str:
            name, assigned = m.group(1), bool(m.group(2))
            if not assigned and "_" not in name:
                return m.group(0)
            return self.controls[name].label + (" " if assigned else "")

        return re.sub(rf"\b({names})\b(=?)", label, message)

    def describe(self, message: str, fields: Iterable[str]) -> str:
        """The message in the form's words, after the labels of the fields it names but does
        not mention ("Encoding: not valid UTF-8 ...")."""
        text = self.words(message)
        missing = [label for label in self.labels(fields) if label not in text]
        return f"{' · '.join(missing)}: {text}" if missing else text[:1].upper() + text[1:]
