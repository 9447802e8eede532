"""The Playground's instruments with tiny real runs: the probabilities shown in the chat are the
sampler's distribution of the model's softmax at that step, the hard-token view's mean is the
evaluation loss of the passage, attention maps match an explicit softmax(QK^T / sqrt(d)), and
Compare streams two replies at once."""

from __future__ import annotations

import math
import shutil

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QDoubleSpinBox, QPlainTextEdit, QSpinBox

from lmstudio_app.core import runs
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.token_losses import MASK_SEED
from lmstudio_app.core.models.generate import generate_choices, sampling_distribution
from lmstudio_app.core.objectives.batches import mask_tokens
from lmstudio_app.core.runs import checkpoint as ckpt
from lmstudio_app.gui.find import button, labelled, named
from lmstudio_app.gui.pages.playground.checkpoints import checkpoint_name
from lmstudio_app.gui.pages.playground.instrument_tabs import ATTENTION, COMPARE, HARD_TOKENS
from lmstudio_app.gui.pages.playground.shaded_text import ShadedText, probability_colour

from .test_shaded_text import character_box, hovered


def _model_distributions(loaded, prompt: str, choices, settings) -> list[torch.Tensor]:
    """The sampler's distribution at each step, from a full forward pass of the whole prefix
    (no KV cache), as an independent reference."""
    ids = loaded.tokenizer.encode(prompt)
    out = []
    with torch.no_grad():
        for c in choices:
            logits = loaded.model(torch.tensor([ids]))[0][0, -1]
            out.append(sampling_distribution(logits, temperature=settings["temperature"],
                                             top_k=settings["top_k"], top_p=settings["top_p"]))
            ids.append(c.token_id)
    return out


def test_chat_shows_the_probability_the_sampler_gave_each_piece(qtbot, engine_runs,
                                                                 playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    labelled(page, "Temperature", QDoubleSpinBox).setValue(0.9)
    labelled(page, "Top-k", QSpinBox).setValue(40)
    labelled(page, "Top-p", QDoubleSpinBox).setValue(0.9)
    labelled(page, "Max new tokens", QSpinBox).setValue(12)
    page.seed, page.stop_at_eos = 3, False
    named(page, "Message", QPlainTextEdit).setPlainText("It is a truth")
    streamed = []
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        button(page, "Send").click()
        page._gen_job.sig_progress.connect(streamed.append)
    settings = page.sampling_settings()
    reference = load_run(engine_runs.gpt, "best")
    assert page.model.loaded.weights == reference.weights
    dists = _model_distributions(reference, "It is a truth", streamed, settings)
    shown = named(page, "Conversation", ShadedText).tokens
    assert [t.data for t in shown] == [c for c in streamed if c.text]
    for c, dist in zip(streamed, dists, strict=True):
        assert abs(c.probability - float(dist[c.token_id])) < 1e-5
        top = torch.topk(dist, 5)
        assert [p for _piece, p in c.top] == pytest_approx(top.values.tolist())
        assert abs(c.entropy_bits - float(-(dist * torch.log2(dist.clamp_min(1e-30))).sum())) \
            < 1e-4
    # What a person sees: the shade and the tooltip of a piece, and its details when clicked.
    doc = named(page, "Conversation", ShadedText).document()
    for t in shown:
        cursor = QTextCursor(doc)
        cursor.setPosition(t.start + 1)
        assert cursor.charFormat().background().color() == probability_colour(t.probability)
        assert f"p = {t.probability:.1%}" in t.details and "entropy" in t.details
    token = shown[len(shown) // 2]
    page.resize(1000, 700)
    page.show()
    qtbot.waitExposed(page)
    view = named(page, "Conversation", ShadedText)
    for point in character_box(view, token.start):  # either half of its first character
        assert hovered(view, point) == token.details
        page.chat_panel.chosen_label.clear()
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
        assert page.chat_panel.chosen_label.text() == token.summary
    assert f"p = {token.probability:.1%}" in token.summary
    page.shutdown()


def pytest_approx(values: list[float]) -> object:
    return pytest.approx(values, abs=1e-5)


def test_greedy_pieces_carry_the_models_own_softmax(qtbot, engine_runs, playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    labelled(page, "Temperature", QDoubleSpinBox).setValue(0.0)
    labelled(page, "Max new tokens", QSpinBox).setValue(6)
    page.stop_at_eos = False
    named(page, "Message", QPlainTextEdit).setPlainText("She said")
    streamed = []
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        button(page, "Send").click()
        page._gen_job.sig_progress.connect(streamed.append)
    reference = load_run(engine_runs.gpt, "best")
    ids = reference.tokenizer.encode("She said")
    with torch.no_grad():
        for c in streamed:
            softmax = torch.softmax(reference.model(torch.tensor([ids]))[0][0, -1], dim=-1)
            assert c.token_id == int(softmax.argmax())
            assert abs(c.probability - float(softmax.max())) < 1e-5
            ids.append(c.token_id)
    page.shutdown()


def _perturbed_copy(src, root):
    """A second GPT run: the run folder copied and its weights moved by noise."""
    dest = root / "runs" / "tiny-gpt-other"
    shutil.copytree(src, dest)
    loaded = load_run(dest, "latest")
    torch.manual_seed(0)
    with torch.no_grad():
        for p in loaded.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    for name in (runs.WEIGHTS, runs.BEST_WEIGHTS):
        if (dest / name).is_file():
            ckpt.save_weights(loaded.model, dest / name)
    return dest


def test_compare_streams_two_models_on_one_prompt_and_seed(qtbot, tmp_path, engine_runs,
                                                           playground_on):
    root = tmp_path / "home"
    shutil.copytree(engine_runs.runs_root, root / "runs")
    other = _perturbed_copy(engine_runs.gpt, root)
    page = playground_on(root / "runs", root / "runs" / engine_runs.gpt.name)
    assert page.instruments.isTabEnabled(COMPARE)
    page.instruments.setCurrentIndex(COMPARE)
    panel = page.instruments.compare_panel
    a, b = panel.sides
    assert {a.run(), b.run()} == {root / "runs" / engine_runs.gpt.name, other}
    labelled(page, "Temperature", QDoubleSpinBox).setValue(0.8)
    labelled(page, "Max new tokens", QSpinBox).setValue(10)
    page.stop_at_eos = False
    panel.seed_spin.setValue(7)
    panel.prompt_edit.setPlainText("Mr. Darcy")
    with qtbot.waitSignal(panel.sig_finished, timeout=30000):
        panel.compare_button.click()
        assert a.job is not None and b.job is not None  # both replies are written at once
        assert a.job.is_running() and b.job.is_running() and panel.stop_button.isEnabled()
    settings = dict(page.sampling_settings(), seed=7)
    for side in (a, b):
        assert side.outcome == "done"
        reference = load_run(side.run(), side.checkpoint())
        expected = list(generate_choices(reference.model, reference.tokenizer, "Mr. Darcy",
                                         **settings))
        got = [t.data for t in side.reply_view.tokens]
        assert [c.token_id for c in got] == [c.token_id for c in expected if c.text]
        assert [c.probability for c in got] == pytest_approx(
            [c.probability for c in expected if c.text])
        assert side.reply_view.toPlainText() == "Mr. Darcy" + side.reply()
    assert [t.data.probability for t in a.reply_view.tokens] != \
        [t.data.probability for t in b.reply_view.tokens]
    assert panel.compare_button.isEnabled()
    page.shutdown()


def _score(qtbot, panel):
    with qtbot.waitSignal(panel.sig_scored, timeout=30000) as got:
        panel.score_button.click()
    qtbot.waitUntil(lambda: panel.job is None)
    return got.args[0]


def test_hard_tokens_mean_is_the_evaluation_loss_of_the_passage(qtbot, engine_runs,
                                                                playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.gpt)
    page.instruments.setCurrentIndex(HARD_TOKENS)
    panel = page.instruments.hard_tokens_panel
    keys = [key for _label, key in panel.choices]
    snapshots = [s.step for s in runs.list_snapshots(engine_runs.gpt)]
    assert keys[:len(snapshots) + 1] == [*snapshots, "latest"]  # in the order of training
    assert panel.slider.maximum() == len(keys) - 1
    scores = _score(qtbot, panel)
    text = panel.passage_edit.toPlainText()  # the start of the validation split, filled in
    reference = load_run(engine_runs.gpt, scores.checkpoint)
    ids = reference.tokenizer.encode(text)
    assert [t.token_id for t in scores.passage.tokens] == ids
    with torch.no_grad():
        x = torch.tensor([ids])
        _logits, loss = reference.model(x[:, :-1], x[:, 1:])
    assert abs(scores.passage.mean_loss - float(loss)) < 1e-4
    assert f"Mean loss {float(loss):.4f} nats" in panel.mean_label.text()
    shaded = [t for t in panel.text_view.tokens if t.probability is not None]
    assert len(shaded) == len(ids) - 1  # the first token has no context to be scored from
    assert abs(sum(-math.log(t.probability) for t in shaded) / len(shaded) - float(loss)) \
        < 1e-4
    # The hardest types, hardest first, as the table shows them.
    assert panel.table.rowCount() == min(len(scores.hardest), 40) > 0
    losses = [float(panel.table.item(r, 1).text()) for r in range(panel.table.rowCount())]
    assert losses == sorted(losses, reverse=True)
    assert panel.table.item(0, 2).text() == str(scores.hardest[0].count)
    # Another checkpoint on the slider scores the same passage with its weights.
    assert scores.checkpoint == page.checkpoint_combo.currentData() == panel.checkpoint()
    if len(keys) > 1:
        other = 0 if panel.slider.value() else 1
        with qtbot.waitSignal(panel.sig_scored, timeout=30000) as again:
            panel.slider.setValue(other)
        assert again.args[0].checkpoint == keys[other]
        assert checkpoint_name(keys[other]) in panel.mean_label.text()
        qtbot.waitUntil(lambda: panel.job is None)
    page.shutdown()


def test_hard_tokens_of_a_bert_run_score_the_masked_positions(qtbot, engine_runs,
                                                               playground_on):
    page = playground_on(engine_runs.runs_root, engine_runs.bert)
    assert page.instruments.isTabEnabled(HARD_TOKENS)
    panel = page.instruments.hard_tokens_panel
    panel.passage_edit.setPlainText("It is a truth universally acknowledged, that a single "
                                    "man in possession of a good fortune must be in want.")
    scores = _score(qtbot, panel)
    reference = load_run(engine_runs.bert, scores.checkpoint)
    tok = reference.tokenizer
    ids = tok.encode(panel.passage_edit.toPlainText())[:reference.config.model.block_size - 2]
    row = torch.tensor([[tok.cls_id, *ids, tok.sep_id]])
    inputs, labels = mask_tokens(row, mask_id=tok.mask_id, vocab_size=tok.vocab_size,
                                 special_ids=frozenset(tok.special_ids),
                                 prob=reference.config.train.mask_prob,
                                 generator=torch.Generator().manual_seed(MASK_SEED))
    with torch.no_grad():
        _logits, loss = reference.model(inputs, labels=labels)
    assert abs(scores.passage.mean_loss - float(loss)) < 1e-4
    masked = (labels[0, 1:-1] != -100).tolist()
    assert [t.probability is not None for t in panel.text_view.tokens] == masked
    assert "masked positions" in panel.mean_label.text()
    page.shutdown()


def _reference_attention(loaded, ids: list[int]) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) of the first layer, from the weights, for each head."""
    model, cfg = loaded.model, loaded.config.model
    x = torch.tensor([ids])
    H, d = cfg.n_head, cfg.n_embd // cfg.n_head
    with torch.no_grad():
        if cfg.arch == "gpt":
            block = model.transformer.h[0]
            h = block.ln_1(model.transformer.wte(x) + model.transformer.wpe.weight[:len(ids)])
            q, k, _v = block.attn.c_attn(h).split(cfg.n_embd, dim=-1)
            allowed = torch.ones(len(ids), len(ids), dtype=torch.bool).tril()
        else:
            h = model.embeddings(x, None)
            attn = model.encoder.layer[0].attention.self
            q, k = attn.query(h), attn.key(h)
            allowed = torch.ones(len(ids), len(ids), dtype=torch.bool)
        q = q.view(1, len(ids), H, d).transpose(1, 2)[0]
        k = k.view(1, len(ids), H, d).transpose(1, 2)[0]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def _click_tile(qtbot, panel, layer: int, head: int) -> None:
    """Click the middle of a map of the grid, as a person does."""
    view = panel.grid.getPlotItem().vb
    centre = panel.grid.mapFromScene(view.mapViewToScene(panel.tile_rect(layer, head).center()))
    qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_attention_maps_match_an_explicit_softmax_for_gpt_and_bert(qtbot, engine_runs,
                                                                  playground_on):
    for run in (engine_runs.gpt, engine_runs.bert):
        page = playground_on(engine_runs.runs_root, run)
        page.instruments.setCurrentIndex(ATTENTION)
        panel = page.instruments.attention_panel
        panel.resize(900, 500)
        page.resize(1000, 700)
        page.show()
        qtbot.waitExposed(page)
        panel.text_edit.setText("She smiled at Mr. Darcy.")  # within the tiny window
        with qtbot.waitSignal(panel.sig_computed, timeout=30000) as got:
            panel.compute_button.click()
        qtbot.waitUntil(lambda p=panel: p.job is None)
        maps = got.args[0]
        reference = load_run(run, page.checkpoint_combo.currentData())
        tok, cfg = reference.tokenizer, reference.config.model
        ids = tok.encode(panel.text_edit.text())
        if cfg.arch == "bert":
            ids = [tok.cls_id, *ids, tok.sep_id]
        assert maps.weights.shape == (cfg.n_layer, cfg.n_head, len(ids), len(ids))
        assert torch.allclose(maps.weights.sum(-1), torch.ones(cfg.n_layer, cfg.n_head,
                                                               len(ids)), atol=1e-5)
        expected = _reference_attention(reference, ids)
        assert len(panel.tiles) == cfg.n_layer * cfg.n_head
        for head in reversed(range(cfg.n_head)):
            _click_tile(qtbot, panel, 0, head)
            assert panel.picked == (0, head)
            assert torch.allclose(torch.from_numpy(panel.shown_map()), expected[head],
                                  atol=1e-5)
            assert torch.allclose(torch.from_numpy(panel.big_image.image), expected[head],
                                  atol=1e-5)
        if cfg.arch == "gpt":  # a GPT token never attends to a later one
            assert float(maps.weights[0, 0].triu(1).abs().max()) == 0.0
        page.shutdown()
        page.close()
