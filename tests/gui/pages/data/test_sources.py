"""Adding sources as a new user does: through the real file dialog, whose "Bundled samples"
place leads to the sample corpus, and a picture added by mistake is refused with the reason."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.gui.find import button
from lmstudio_app.gui.pages.data.page import KEY_SOURCES, DataPage
from lmstudio_app.gui.widgets.file_dialogs import SAMPLES_PLACE


def _page(qtbot, state, sources):
    state.set_value(KEY_SOURCES, json.dumps([str(s) for s in sources]))
    page = DataPage(state)
    qtbot.addWidget(page)
    page.show()
    return page


def _choose(qtbot, page, button, path) -> QFileDialog:
    """Click `button`, then choose `path` in the file dialog it opens, as a user would."""
    button.click()
    dialog = page.sources_panel.file_dialog
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    dialog.selectFile(str(path))
    dialog.accept()
    return dialog


def test_the_file_dialog_leads_to_the_bundled_samples(qtbot, app_state):
    page = _page(qtbot, app_state, [])
    panel = page.sources_panel
    panel.add_files_button.click()
    dialog = panel.file_dialog
    place = app_state.home / SAMPLES_PLACE
    assert QUrl.fromLocalFile(str(place)) in dialog.sidebarUrls()
    corpus = place / "Jane Austen corpus"
    assert os.path.samefile(corpus, sample_corpus())
    assert (place / "Labeled examples" / "sentiment.csv").is_file()
    dialog.reject()
    # Chosen through the place: the sample's own text file, counted as any other.
    _choose(qtbot, page, panel.add_files_button, corpus / "persuasion.txt")
    assert [os.path.basename(p) for p in page.source_paths()] == ["persuasion.txt"]
    qtbot.waitUntil(lambda: page.counts(page.source_paths()[0]) is not None, timeout=20000)
    assert page.counts(page.source_paths()[0]).error is None
    page.shutdown()


def test_a_picture_is_refused_when_added_with_the_reason(qtbot, app_state, tmp_path,
                                                         austen_corpus):
    picture = tmp_path / "photo.png"
    image = QImage(16, 16, QImage.Format.Format_RGB32)
    image.fill(0x3366CC)
    assert image.save(str(picture), "PNG")
    text = austen_corpus / "austen.txt"
    page = _page(qtbot, app_state, [text])
    _choose(qtbot, page, page.sources_panel.add_files_button, picture)
    qtbot.waitUntil(lambda: str(picture) not in page.source_paths(), timeout=10000)
    assert page.source_paths() == [str(text)]
    assert page.error_text() == ("Not added: photo.png is a PNG image, not text: a corpus is "
                                 "made of text files (.txt .md .jsonl .csv .tsv, optionally "
                                 ".gz or .zst) or Parquet / Arrow files (.parquet .arrow).")
    assert json.loads(app_state.value(KEY_SOURCES)) == [str(text)]  # not kept for next time
    qtbot.waitUntil(lambda: page.counts(str(text)) is not None, timeout=10000)
    assert button(page, "Prepare").isEnabled()
    # A binary file named like text is refused too.
    fake = tmp_path / "notes.txt"
    fake.write_bytes(b"some words\x00\x01\x02 and bytes")
    page.add_sources([fake])
    qtbot.waitUntil(lambda: str(fake) not in page.source_paths(), timeout=10000)
    assert "notes.txt is binary data" in page.error_text()
    page.shutdown()
