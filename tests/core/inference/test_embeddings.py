"""The embedding projector's engine: PCA against numpy's SVD, neighbours against a brute-force
cosine search, a real run's embeddings and metadata, and the files TensorBoard's projector reads."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.embeddings import (
    checkpoints_of,
    neighbours,
    pca,
    piece_type,
    project,
    token_embeddings,
    write_projector,
)
from lmstudio_app.core.training.trainer import Trainer
from tests.core.training.test_trainer import tiny_cfg


@pytest.fixture(scope="module")
def run(prepared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "run"
    cfg = tiny_cfg(prepared_data, max_steps=20, eval_interval=10)
    assert Trainer(cfg, out).run().reason == "completed"
    return out


@pytest.mark.parametrize("k", [2, 3])
def test_pca_points_equal_numpys_svd_projection(k):
    x = np.random.default_rng(0).normal(size=(200, 16)) @ np.diag(np.linspace(3, 0.1, 16))
    points, ratio = pca(x, k)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    want = centred @ vt[:k].T
    signs = np.sign(np.sum(points * want, axis=0))  # a component's sign is a convention
    np.testing.assert_allclose(points, want * signs, atol=1e-9)
    np.testing.assert_allclose(ratio, s[:k] ** 2 / np.sum(s**2))
    flipped, _ = pca(-x, k)  # the sign rule makes the picture the same for the same rows
    assert np.allclose(np.abs(flipped), np.abs(points))


def test_neighbours_equal_a_brute_force_cosine_search():
    x = np.random.default_rng(1).normal(size=(300, 8))
    x[5] = 0.0  # a zero row never breaks the search
    for i in (0, 17, 299):
        got = neighbours(x, i, k=7)
        sims = [(float(np.dot(x[i], x[j]) / (max(np.linalg.norm(x[i]), 1e-12)
                                             * max(np.linalg.norm(x[j]), 1e-12))), j)
                for j in range(len(x)) if j != i]
        want = sorted(sims, key=lambda t: (-t[0], t[1]))[:7]
        assert [j for j, _ in got] == [j for _, j in want]
        np.testing.assert_allclose([s for _, s in got], [s for s, _ in want])


def test_piece_types():
    assert piece_type("<unk>", True) == "special"
    assert piece_type("<0x0A>", False) == "byte"
    assert piece_type("\u2581the", False) == "word start"
    assert piece_type("ing", False) == "word piece"
    assert piece_type(",", False) == "punctuation"
    assert piece_type("\u258142", False) == "digits"
    assert piece_type("\u2581", False) == "space"


def test_a_runs_embeddings_at_each_checkpoint(run):
    from lmstudio_app.core.inference.loading import load_run

    steps = checkpoints_of(run)
    assert steps[-1] == "latest" and len(steps) >= 2
    e = token_embeddings(run, steps[0])
    model = load_run(run, steps[0]).model
    np.testing.assert_array_equal(e.vectors, model.transformer.wte.weight.detach().numpy())
    assert len(e.pieces) == len(e.types) == len(e.vectors)
    last = token_embeddings(run, "latest")
    assert not np.array_equal(e.vectors, last.vectors)  # training moved them
    assert e.frequency is not None and e.frequency.sum() > 0
    from lmstudio_app.core import runs
    from lmstudio_app.core.data.store import TokenStore

    store = TokenStore.open(f"{runs.read_config(run).data_dir}/tokens.h5")
    counts = np.bincount(np.asarray(store.tokens("train")), minlength=len(e.pieces))
    np.testing.assert_array_equal(e.frequency, counts[: len(e.pieces)])
    with pytest.raises(UserError):
        project(e.vectors, 2, "tsne")


def test_projector_files_tsv_and_csv(run, tmp_path):
    e = token_embeddings(run, "latest")
    points = project(e.vectors, 2)
    written = write_projector(e, points, tmp_path / "proj")
    vectors = np.loadtxt(written[0], delimiter="\t")
    np.testing.assert_allclose(vectors, points, rtol=1e-5, atol=1e-6)
    meta = written[1].read_text(encoding="utf-8").split("\n")
    assert meta[0] == "piece\tid\ttype\tfrequency" and len(meta) == len(points) + 2
    assert all(line.count("\t") == 3 for line in meta[1:-1])  # a tab in a piece is escaped
    write_projector(e, points, tmp_path / "p.csv")
    with open(tmp_path / "p.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["piece"] for r in rows] == e.pieces
    assert float(rows[3]["x"]) == pytest.approx(points[3, 0], rel=1e-5, abs=1e-6)
    assert int(rows[3]["frequency"]) == int(e.frequency[3])


def test_pooled_text_embeddings_of_a_classifier(run, tmp_path):
    from lmstudio_app.core.config import FinetuneConfig
    from lmstudio_app.core.data import labeled
    from lmstudio_app.core.inference.embeddings import pooled_embeddings
    from lmstudio_app.core.inference.loading import load_run
    from lmstudio_app.core.objectives.finetune_setup import load_task_data, make_finetune_config
    lines = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()
    sent = tmp_path / "s.csv"  # the header, and rows from both ends (the file is by label)
    sent.write_text("\n".join([lines[0], *lines[1:41], *lines[-40:]]) + "\n", encoding="utf-8")
    cfg = make_finetune_config(FinetuneConfig(task="classify", train_file=str(sent),
                                              base_run=str(run), pooling="mean"),
                               overrides={"max_steps": 6, "eval_interval": 6,
                                          "batch_size": 8})
    out = tmp_path / "cls"
    assert Trainer(cfg, out).run().reason == "completed"
    e = pooled_embeddings(out, "latest")
    val = load_task_data(load_run(out, "latest").config.finetune)[0].val
    assert e.kind == "texts" and e.types == [ex.label for ex in val]
    assert e.vectors.shape == (len(val), cfg.model.n_embd)
    # The mean of the body's hidden states over each text's tokens: what the head reads.
    from lmstudio_app.core.models.heads import body_hidden_states
    from lmstudio_app.core.objectives.encoding import classify_ids
    from lmstudio_app.core.objectives.task import max_length

    loaded = load_run(out, "latest")
    ids = classify_ids(loaded.tokenizer, val[0].text, "gpt", max_length(loaded.config), False)
    with torch.no_grad():
        h = body_hidden_states(loaded.model.body, torch.tensor([ids]))
    np.testing.assert_allclose(e.vectors[0], h[0].mean(dim=0).numpy(), rtol=1e-4, atol=1e-5)
    written = write_projector(e, project(e.vectors, 2), tmp_path / "texts.csv")
    assert written[0].read_text(encoding="utf-8").startswith("text,index,label,x,y\n")
    with pytest.raises(UserError):
        pooled_embeddings(run)  # a pretraining run has no pooled text embeddings


def test_umap_is_refused_with_its_install_line_when_missing():
    import importlib.util

    x = np.random.default_rng(2).normal(size=(50, 8))
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(UserError, match=r"lmstudio-app\[umap\]") as bad:
            project(x, 2, "umap")
        assert bad.value.field == "method"
    else:
        assert project(x, 2, "umap").shape == (50, 2)
