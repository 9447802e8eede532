"""The one exception type for mistakes a user can fix.

Anything raised as a `UserError` is shown as one readable line (the CLI exits with status 2,
the window shows a message); anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: which file or setting, and what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
