"""File dialogs that lead to the bundled samples.

A new user who opens "Add files…" or "Labeled data…" should find the sample corpus and the
labeled examples that come with the app, not only their home folder. Qt's own file dialog (the
desktop's native one takes no extra places) gets a "Bundled samples" place in its sidebar: a
folder in the app's data folder whose entries link to the bundled corpus and labeled sets. The
dialogs are opened window-modal with open(), never exec(): the event loop goes on, and the
choice arrives through a callback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtWidgets import QFileDialog, QSplitter, QWidget

log = logging.getLogger(__name__)

SAMPLES_PLACE = "Bundled samples"
# The names of the links in the place, and the bundled folders they lead to.
SAMPLE_LINKS = {"Jane Austen corpus": "corpus", "Labeled examples": "labeled"}


def _resources() -> Path:
    from ...core.data.samples import sample_corpus

    return sample_corpus().parent


def samples_place(home: Path) -> list[Path]:
    """The places that lead to the bundled samples: <home>/Bundled samples, with a link to each
    sample folder (made or mended here); where links cannot be made (Windows without the
    privilege), the sample folders themselves."""
    resources = _resources()
    place = Path(home) / SAMPLES_PLACE
    try:
        place.mkdir(parents=True, exist_ok=True)
        for name, folder in SAMPLE_LINKS.items():
            link, target = place / name, resources / folder
            if link.is_symlink() and Path(os.readlink(link)) == target:
                continue
            if link.is_symlink():  # the app moved (a new bundle, another checkout)
                link.unlink()
            link.symlink_to(target, target_is_directory=True)
        return [place]
    except OSError as exc:
        log.info("no %r place (%s): the sample folders are listed instead", SAMPLES_PLACE, exc)
        return [resources / folder for folder in SAMPLE_LINKS.values()]


def open_dialog(parent: QWidget, title: str, home: Path, start: Path | str | None,
                on_chosen: Callable[[list[str]], None], name_filter: str = "",
                mode: QFileDialog.FileMode = QFileDialog.FileMode.ExistingFiles) -> QFileDialog:
    """A window-modal file dialog with the bundled samples in its sidebar; `on_chosen(paths)`
    once the user has chosen (never when cancelled). Returns the open dialog."""
    dialog = QFileDialog(parent, title, str(start or Path.home()), name_filter)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)  # the native one takes no places
    dialog.setFileMode(mode)
    if mode == QFileDialog.FileMode.Directory:
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    places: Sequence[Path] = [
        Path.home(),
        *(Path(p) for p in QStandardPaths.standardLocations(
            QStandardPaths.StandardLocation.DocumentsLocation)[:1]),
        *samples_place(home),
    ]
    dialog.setSidebarUrls([QUrl.fromLocalFile(str(p)) for p in places if p.is_dir()])
    # Room for the places' names ("Bundled samples" was cut to "Bundled").
    dialog.resize(900, 560)
    splitter = dialog.findChild(QSplitter)
    if splitter is not None:
        splitter.setSizes([220, 680])
    dialog.filesSelected.connect(lambda paths: on_chosen(list(paths)))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
