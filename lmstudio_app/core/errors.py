"""The one exception type for mistakes a user can fix.

Anything raised as a `UserError` is shown as one readable line (the CLI exits with status 2,
the window shows a message); anything else is a bug and is logged with its traceback.

The engine knows neither the command line's flags nor the window's labels, so the fix travels
as data: `field` names the configuration field at fault (as the config dataclasses spell it,
e.g. "n_embd", "encoding", "train_file"), and `option` is the value that would fix it, when
there is one. The CLI turns the field into its flag ("--encoding latin-1"); the window
outlines the field's control.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: which file or setting, and what to do about it.

    `field` is one field name or several (a rule that ties two fields, such as n_embd and
    n_head, names both); `option` is a suggested value for the first field.
    """

    def __init__(self, message: str, *, field: str | tuple[str, ...] | None = None,
                 option: str | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.fields: tuple[str, ...] = (field,) if isinstance(field, str) else tuple(field or ())
        self.option = option

    @property
    def message(self) -> str:
        return str(self)

    @property
    def field(self) -> str | None:
        """The first field at fault, or None when the mistake is not one setting's."""
        return self.fields[0] if self.fields else None
