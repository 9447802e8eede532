"""A mistake shown where it was made: the controls of the settings a UserError names, outlined.

The engine names the configuration field at fault (`UserError.fields`: "n_embd", "encoding",
"text_col", ...), never a label of the window. Each form keeps one table from those field names
to its controls and labels; `FieldMarks` outlines the controls named, puts the reason in their
tooltips under the form's own label ("Width (n_embd): ..."), and puts the labels before the
message the form shows, so the reader knows which setting to change.
"""

from __future__ import annotations

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

    def describe(self, message: str, fields: Iterable[str]) -> str:
        """"Width · Attention heads: <message>": the settings to change, then why."""
        labels = self.labels(fields)
        return f"{' · '.join(labels)}: {message}" if labels else message
