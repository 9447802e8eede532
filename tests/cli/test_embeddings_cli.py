"""`embeddings` from the terminal: TensorBoard projector's files or a CSV, neighbours printed."""

from __future__ import annotations

import csv

import numpy as np

from lmstudio_app.core.inference.embeddings import neighbours, pca, token_embeddings
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import run_cli
from tests.core.training.test_trainer import tiny_cfg


def test_embeddings_files_and_neighbours(prepared_data, tmp_path):
    run = tmp_path / "run"
    assert Trainer(tiny_cfg(prepared_data, max_steps=10), run).run().reason == "completed"
    e = token_embeddings(run, "latest")
    out = run_cli("embeddings", "--run", str(run), "--out", "proj", "--dimensions", "3",
                  "--neighbours", e.pieces[40], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(np.loadtxt(tmp_path / "proj" / "vectors.tsv", delimiter="\t"),
                               pca(e.vectors, 3)[0], rtol=1e-5, atol=1e-5)
    assert (tmp_path / "proj" / "metadata.tsv").read_text(encoding="utf-8").startswith(
        "piece\tid\ttype\tfrequency\n")
    printed = [line.split("\t", 1)[1] for line in out.stdout.splitlines()]
    assert printed == [e.pieces[j] for j, _ in neighbours(e.vectors, 40)]

    out = run_cli("embeddings", "--run", str(run), "--out", "points.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "points.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(e.pieces) and set(rows[0]) == {"piece", "id", "type", "frequency",
                                                           "x", "y"}


def test_embeddings_refusals_are_one_line(prepared_data, tmp_path):
    out = run_cli("embeddings", "--run", str(tmp_path / "nothing"), "--out", "x", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: ")
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x").exists()
