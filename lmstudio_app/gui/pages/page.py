"""What the main window knows of a page: two small protocols (PEP 544), nothing of its widgets.

Every page has a title (its name in the sidebar), says whether closing now would cut work short
and why (`busy`), and ends its work when the window goes (`shutdown`). The page that trains also
takes the Training menu's commands and says why Start is refused. Everything else the window
shows (the run's state line, device and resources, which commands a run allows) comes from
AppState's signals, so that no part of the window reads a page's widgets or label text.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QWidget


class Page(Protocol):
    """A page of the main window."""

    title: str  # its name in the sidebar and the View menu

    def widget(self) -> QWidget:
        """What the window shows for this page (the page itself)."""
        ...

    def busy(self) -> str | None:
        """Why closing now would interrupt work (one short phrase), or None when idle."""
        ...

    def shutdown(self) -> None:
        """End the page's work (a run stops at a step boundary and saves); wait for its
        threads. Called once more is harmless."""
        ...


class TrainingPage(Page, Protocol):
    """The page the Training menu drives (Ctrl+Return, Ctrl+P, Ctrl+R, Ctrl+.)."""

    def start(self) -> bool:
        """Start a run with the form's settings; False when it cannot (see start_refusal)."""
        ...

    def start_refusal(self) -> str:
        """Why Start is refused now, in one line for the status bar."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None:
        """Stop the run (or the comparison) at the next step boundary; a run saves."""
        ...
