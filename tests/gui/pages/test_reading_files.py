"""The window reads files through the engine's one reader: the Data page and the labeled-data
dialog see a UTF-16 file, a semicolon CSV, a TSV with an unclosed quote, label variants and a
damaged run folder as the command line does."""

from __future__ import annotations

import codecs
import json
import threading
from pathlib import Path

from PySide6.QtCore import QSettings

from lmstudio_app.core import runs
from lmstudio_app.core.data.corpus import CorpusOptions
from lmstudio_app.core.data.inspect import count_source, read_preview
from lmstudio_app.gui.pages.data.labeled_dialog import LabeledDataDialog, bar_heights
from lmstudio_app.gui.pages.data.page import KEY_SOURCES, DataPage
from lmstudio_app.gui.pages.runs import COLUMNS, RunsPage
from lmstudio_app.gui.state import AppState
from tests.conftest import austen_text


def _open_checked(qtbot, path: Path, mapping: dict[str, str] | None = None):
    """The dialog on `path` once it has read and checked the file by itself (with `mapping`,
    checked again with those columns)."""
    dialog = LabeledDataDialog(path)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.busy(), timeout=10000)
    if mapping:
        with qtbot.waitSignal(dialog.sig_checked, timeout=10000):  # only a current mapping's
            dialog.set_mapping(mapping)
            dialog.check()
        qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    return dialog, dialog.report


def test_the_dialog_reads_utf16_semicolons_and_merges_label_variants(qtbot, tmp_path):
    rows = [("Lovely; calm", "positive"), ("Awful, cold", "negative"), ("Great", "Positive"),
            ("Dull", "NEGATIVE"), ("Fine", "positive")]
    text = "text;label\r\n" + "".join(f'"{t}";{label}\r\n' for t, label in rows)
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    dialog, report = _open_checked(qtbot, path)
    assert dialog.columns == ["text", "label"]
    assert dialog.table.item(0, 0).text() == "Lovely; calm"
    assert dict(report.labels) == {"positive": 3, "negative": 2}
    shown = dialog.report_view.toPlainText()
    assert "2 classes: negative 2, positive 3" in shown
    assert "merged: 'Positive' -> 'positive'" in shown and "semicolon-separated" in shown
    assert sorted(bar_heights(dialog.bars)) == [2.0, 3.0]
    dialog.shutdown()


def test_the_dialog_and_the_corpus_reader_count_an_unclosed_quote_alike(qtbot, tmp_path):
    lines = ["text\tlabel"] + [f"review {i}\t{('positive', 'negative')[i % 2]}"
                               for i in range(80)]
    lines[6] = '"' + lines[6]
    path = tmp_path / "reviews.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dialog, report = _open_checked(qtbot, path)
    assert report.rows_used == 80
    assert "line 7: a quote opens and never closes" in dialog.report_view.toPlainText()
    counted = count_source(str(path), CorpusOptions(), threading.Event())
    assert counted.error is None and counted.documents == 80
    dialog.shutdown()


def test_the_data_page_counts_and_previews_a_utf16_file(qtbot, app_state, tmp_path):
    text = austen_text(30_000)
    path = tmp_path / "saved.txt"
    path.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    preview, _ = read_preview(str(path), CorpusOptions())
    assert preview == text[: len(preview)] and len(preview) > 1000
    app_state.set_value(KEY_SOURCES, json.dumps([]))
    page = DataPage(app_state)
    qtbot.addWidget(page)
    page.add_sources([path])
    qtbot.waitUntil(lambda: page.counts(str(path)) is not None, timeout=10000)
    counts = page.counts(str(path))
    assert counts.error is None and counts.chars == len(text)
    page.shutdown()


def test_the_runs_page_lists_a_damaged_run(qtbot, tmp_path):
    root = tmp_path / "home" / "runs"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / runs.CONFIG).write_bytes(b"[1, 2]")
    (root / "broken" / runs.METRICS).write_bytes(b'{"kind": "step", "step": 1}\n\xff\n')
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    page = RunsPage(AppState(settings=settings, home=root.parent))
    qtbot.addWidget(page)
    row = page.row_text(root / "broken")
    assert row[0] == "broken" and row[COLUMNS.index("State")] == "damaged"
    page.shutdown()
