"""The Playground's Embeddings tab on a tiny real run: the points drawn are the engine's PCA of
the checkpoint's embedding matrix, the slider moves between checkpoints, hovering names the
token and choosing one lists its brute-force cosine neighbours."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from lmstudio_app.core.inference.embeddings import neighbours, pca
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.gui.pages.playground.instrument_tabs import EMBEDDINGS
from lmstudio_app.gui.pages.playground.shaded_text import piece_label


def _project(qtbot, panel):
    with qtbot.waitSignal(panel.sig_shown, timeout=60000) as got:
        qtbot.mouseClick(panel.project_button, Qt.MouseButton.LeftButton)
        assert panel.job is not None  # computed in the background
    qtbot.waitUntil(lambda: panel.job is None)
    return got.args[0]


def test_embeddings_tab_projects_hovers_and_lists_neighbours(qtbot, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    assert page.instruments.isTabEnabled(EMBEDDINGS)
    page.instruments.setCurrentIndex(EMBEDDINGS)
    panel = page.instruments.embeddings_panel
    e = _project(qtbot, panel)
    weights = load_run(engine_runs.gpt, e.checkpoint).model.transformer.wte.weight.detach()
    want = pca(weights.numpy()[: len(e.pieces)], 2)[0]
    x, y = panel.scatter.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), want, rtol=1e-5, atol=1e-6)

    # Hover: the tooltip names the token under the pointer.
    i = 37
    tip = panel._tip(float(x[i]), float(y[i]), i)
    assert tip.startswith(piece_label(e.pieces[i])) and f"id {i}" in tip

    # Typing a piece lists its neighbours, nearest first, as a brute-force search finds them.
    panel.token_edit.setText(e.pieces[i])
    qtbot.keyClick(panel.token_edit, Qt.Key.Key_Return)
    shown = [panel.neighbours.item(r).text() for r in range(panel.neighbours.count())]
    want_n = neighbours(e.vectors, i, 15)
    assert [s.split("  ", 1)[1] for s in shown] == [piece_label(e.pieces[j]) for j, _ in want_n]

    # Colour by piece type, then another checkpoint on the slider: projected again.
    panel.colour_box.setCurrentIndex(panel.colour_box.findData("type"))
    if panel.slider.maximum() > 0:
        with qtbot.waitSignal(panel.sig_shown, timeout=60000) as again:
            panel.slider.setValue(0)
        assert again.args[0].checkpoint == panel.choices[0][1] != e.checkpoint
        qtbot.waitUntil(lambda: panel.job is None)
    page.shutdown()


def test_a_classifiers_validation_texts_coloured_by_label(qtbot, finetune_runs, playground_on):
    from lmstudio_app.core.inference.embeddings import pooled_embeddings

    page = playground_on(finetune_runs.runs_root, finetune_runs.classify)
    page.instruments.setCurrentIndex(EMBEDDINGS)
    panel = page.instruments.embeddings_panel
    assert panel.what_box.isEnabled()
    panel.what_box.setCurrentIndex(panel.what_box.findData("texts"))
    e = _project(qtbot, panel)
    want = pooled_embeddings(finetune_runs.classify, e.checkpoint)
    assert e.kind == "texts" and e.types == want.types
    x, y = panel.scatter.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), pca(want.vectors, 2)[0], rtol=1e-4,
                               atol=1e-5)
    assert all(label in panel.legend.text() for label in set(e.types))
    assert panel._tip(float(x[0]), float(y[0]), 0).endswith(f"(label {e.types[0]})")
    page.shutdown()
