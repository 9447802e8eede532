"""The Data page takes Parquet files and datasets saved with save_to_disk, as a user adds them:
through the file dialog (its filter shows them) and the folder dialog, counted and prepared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QSpinBox

from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.gui.find import labelled
from lmstudio_app.gui.pages.data.page import KEY_SOURCES, DataPage
from tests.conftest import austen_text

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _page(qtbot, state) -> DataPage:
    state.set_value(KEY_SOURCES, json.dumps([]))
    page = DataPage(state)
    qtbot.addWidget(page)
    page.show()
    return page


def _choose(page, button, path: Path) -> QFileDialog:
    button.click()
    dialog = page.sources_panel.file_dialog
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    dialog.selectFile(str(path))
    dialog.accept()
    return dialog


def test_a_parquet_file_is_added_counted_and_prepared(qtbot, app_state, tmp_path):
    texts = [p for p in austen_text(100_000).split("\n\n") if p.strip()]
    shard = tmp_path / "train-00000.parquet"
    pq.write_table(pa.table({"id": list(range(len(texts))), "text": texts}), shard,
                   row_group_size=50)
    page = _page(qtbot, app_state)
    panel = page.sources_panel
    panel.add_files_button.click()
    assert "*.parquet" in panel.file_dialog.selectedNameFilter()  # shown, not only "All files"
    panel.file_dialog.reject()
    _choose(page, panel.add_files_button, shard)
    assert page.source_paths() == [str(shard)]
    qtbot.waitUntil(lambda: page.counts(str(shard)) is not None, timeout=20000)
    counts = page.counts(str(shard))
    assert counts.error is None and counts.documents == len(texts)
    assert counts.chars == sum(len(t) for t in texts)
    labelled(page, "Vocabulary", QSpinBox).setValue(500)
    with qtbot.waitSignal(page.sig_prepare_finished, timeout=60000) as done:
        page.start_prepare()
    assert done.args == ["done"]
    store = TokenStore.open(page.out_dir() / "tokens.h5")
    assert store.n_documents("train") + store.n_documents("val") == len(texts)
    page.shutdown()


def test_a_saved_dataset_folder_is_added_with_the_folder_dialog(qtbot, app_state, tmp_path):
    datasets = pytest.importorskip("datasets")
    texts = [p for p in austen_text(50_000).split("\n\n") if p.strip()]
    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"text": texts}).save_to_disk(str(saved))
    page = _page(qtbot, app_state)
    _choose(page, page.sources_panel.add_folder_button, saved)
    assert page.source_paths() == [str(saved)]
    qtbot.waitUntil(lambda: page.counts(str(saved)) is not None, timeout=20000)
    counts = page.counts(str(saved))
    assert counts.error is None and (counts.files, counts.documents) == (1, len(texts))
    page.shutdown()
