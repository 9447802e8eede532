"""The embedding projector's engine: a run's token embeddings (the input embedding matrix,
(V, C)) at any kept checkpoint, projected to 2-D or 3-D by PCA (or UMAP when `umap-learn` is
installed), with what colours a point (the piece's frequency in the training split, its type)
and its nearest neighbours by cosine similarity.

PCA follows the textbook (and scikit-learn's PCA with svd_flip): centre the rows, take the SVD
X - mean = U S V^T, project on the first k right singular vectors (the points are U_k S_k), each
component's sign chosen so that its largest loading is positive (the same run gives the same
picture). UMAP is McInnes et al. 2018 through the `umap-learn` library, cosine metric, seed 0.
TensorBoard's projector shows the same pictures from the files `write_projector` writes.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import runs
from ..data.layout import STORE
from ..data.store import TokenStore
from ..errors import UserError
from ..util.atomic import atomic_write_bytes
from .loading import load_run

METHODS = ("pca", "umap")
UMAP_HINT = 'pip install "lmstudio-app[umap]"'
FREQUENCY_TOKENS = 20_000_000  # at most this many training tokens are counted
PIECE_TYPES = ("special", "byte", "word start", "word piece", "punctuation", "digits", "space")


@dataclass
class TokenEmbeddings:
    """A checkpoint's token embeddings, `vectors` (V, C) float32, and each token's metadata:
    `pieces` (V), `types` (V, one of PIECE_TYPES), `frequency` (V counts in the training split,
    or None when the run's data is not at hand)."""

    checkpoint: str | int
    vectors: np.ndarray
    pieces: list[str]
    types: list[str]
    frequency: np.ndarray | None = None
    kind: str = "tokens"  # or "texts": pooled text embeddings; `pieces` the texts, `types`
    # their labels


def embedding_matrix(model: nn.Module, vocab_size: int) -> torch.Tensor:
    """The input embedding matrix (V, C) of a GPT, Llama or BERT body (or a task model around
    one): the first nn.Embedding with `vocab_size` rows. Raises UserError when there is none."""
    for module in model.modules():
        if isinstance(module, nn.Embedding) and module.num_embeddings == vocab_size:
            return module.weight.detach()
    raise UserError("this model has no token embedding matrix.", field="run")


def piece_type(piece: str, special: bool) -> str:
    """One of PIECE_TYPES for a SentencePiece (or byte-level) piece."""
    if special:
        return "special"
    if piece.startswith("<0x") and piece.endswith(">"):
        return "byte"
    body = piece.lstrip("\u2581")
    if not body.strip():
        return "space"
    if body.isdigit():
        return "digits"
    if all(not c.isalnum() for c in body):
        return "punctuation"
    return "word start" if piece.startswith("\u2581") else "word piece"


def token_frequency(data_dir: str, vocab_size: int) -> np.ndarray | None:
    """Each token id's count in the first FREQUENCY_TOKENS tokens of the training split of the
    run's prepared data (V,), or None when that store is not there."""
    path = Path(data_dir) / STORE if data_dir else None
    if path is None or not path.is_file():
        return None
    try:
        tokens = TokenStore.open(path).tokens("train")
        ids = np.asarray(tokens[: min(len(tokens), FREQUENCY_TOKENS)], dtype=np.int64)
    except (OSError, UserError, KeyError):
        return None
    return np.bincount(ids, minlength=vocab_size)[:vocab_size]


def token_embeddings(run_dir: Path, checkpoint: str | int = "latest") -> TokenEmbeddings:
    """The run's token embeddings at `checkpoint` (best, latest or a kept step) with their
    metadata. Raises UserError as load_run does (no run, no weights, no such step)."""
    loaded = load_run(Path(run_dir), checkpoint, "cpu")
    tok, cfg = loaded.tokenizer, loaded.config
    vectors = embedding_matrix(loaded.model, cfg.model.vocab_size).float().numpy().copy()
    n = min(tok.vocab_size, len(vectors))  # rows past the tokenizer's pieces are padding
    special = tok.special_ids
    pieces = [tok.id_to_piece(i) for i in range(n)]
    types = [piece_type(p, i in special) for i, p in enumerate(pieces)]
    freq = token_frequency(cfg.data_dir, n) if cfg.finetune is None else None
    return TokenEmbeddings(checkpoint, vectors[:n], pieces, types, freq)


POOLED_LIMIT = 2000  # validation texts embedded at most
TEXT_SHOWN = 80  # characters of a text kept as its name


def pooled_embeddings(run_dir: Path, checkpoint: str | int = "latest",
                      limit: int = POOLED_LIMIT) -> TokenEmbeddings:
    """A fine-tuned classifier's pooled text embeddings (N, C) of the first `limit` examples of
    its validation split: what its head reads (the input of its linear layer, captured by a
    forward hook while `classify_probs` runs), named by the text, typed by the true label.
    Raises UserError for a run that is not a classifier, or whose labeled files are gone."""
    from ..models.heads import reads_end_token
    from ..objectives.classify import classify_probs
    from ..objectives.finetune_setup import load_task_data
    from ..objectives.task import max_length
    from .loading import require_task

    loaded = load_run(Path(run_dir), checkpoint, "cpu")
    ft = require_task(loaded, "classify")
    examples = list(load_task_data(ft)[0].val)[:limit]
    if not examples:
        raise UserError(f"{run_dir}: the validation split is empty.", field="run")
    captured: list[torch.Tensor] = []
    head = loaded.model.get_submodule("head")
    hook = head.register_forward_hook(
        lambda _m, inputs, _out: captured.append(inputs[0].detach().float().cpu()))
    try:
        with torch.no_grad():
            classify_probs(loaded.model, loaded.tokenizer, [ex.text for ex in examples],
                           loaded.config.model.arch, max_length(loaded.config),
                           end_token=reads_end_token(loaded.config))
    finally:
        hook.remove()
    return TokenEmbeddings(checkpoint, torch.cat(captured).numpy(),
                           [ex.text[:TEXT_SHOWN] for ex in examples],
                           [ex.label for ex in examples], kind="texts")


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `x` (N, C) projected on their first `k` principal components: (points (N, k),
    explained variance ratio (k,)). Uses torch's SVD in float64; signs as in the module note."""
    if not 1 <= k <= min(x.shape):
        raise UserError(f"dimensions={k}: choose 2 or 3 (at most {min(x.shape)} here).",
                        field="dimensions")
    centred = torch.from_numpy(np.asarray(x, dtype=np.float64))
    centred = centred - centred.mean(dim=0, keepdim=True)
    u, s, vh = torch.linalg.svd(centred, full_matrices=False)
    vh = vh[:k]
    signs = torch.sign(vh[torch.arange(k), vh.abs().argmax(dim=1)])
    signs[signs == 0] = 1.0
    points = (centred @ vh.T) * signs
    total = float((s**2).sum()) or 1.0
    return points.numpy(), (s[:k] ** 2 / total).numpy()


def umap_points(x: np.ndarray, k: int = 2) -> np.ndarray:
    """UMAP of the rows of `x` to `k` dimensions (cosine metric, seed 0). Raises UserError with
    the install line when umap-learn is missing."""
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError:
        raise UserError(f"UMAP needs umap-learn: {UMAP_HINT} (or use PCA).",
                        field="method", option="pca") from None
    reducer = umap.UMAP(n_components=k, metric="cosine", random_state=0)
    return np.asarray(reducer.fit_transform(x), dtype=np.float64)


def project(x: np.ndarray, k: int = 2, method: str = "pca") -> np.ndarray:
    """`x` (N, C) in `k` dimensions by `method` (pca or umap): (N, k)."""
    if method not in METHODS:
        raise UserError(f"method {method!r}: choose pca or umap.", field="method")
    return pca(x, k)[0] if method == "pca" else umap_points(x, k)


def neighbours(x: np.ndarray, i: int, k: int = 10) -> list[tuple[int, float]]:
    """The `k` rows of `x` (N, C) nearest row `i` by cosine similarity, itself excluded:
    (row, similarity), most similar first (ties by row). A zero row has similarity 0."""
    v = np.asarray(x, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(v, axis=1), 1e-12)
    sims = (v @ v[i]) / (norms * norms[i])
    sims[i] = -math.inf
    order = np.lexsort((np.arange(len(v)), -sims))[: min(k, len(v) - 1)]
    return [(int(j), float(sims[j])) for j in order]


# ---------------------------------------------------------------------------------------------
# Files: TensorBoard projector's pair, or one CSV


def _escape(piece: str) -> str:
    """A piece as one TSV cell: backslash, tab and line breaks escaped."""
    return (piece.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _metadata_rows(e: TokenEmbeddings) -> list[list[Any]]:
    if e.kind == "texts":
        return [[e.pieces[i], i, e.types[i]] for i in range(len(e.pieces))]
    freq = e.frequency
    return [[e.pieces[i], i, e.types[i], "" if freq is None else int(freq[i])]
            for i in range(len(e.pieces))]


METADATA_HEADER = ["piece", "id", "type", "frequency"]
TEXTS_HEADER = ["text", "index", "label"]


def write_projector(e: TokenEmbeddings, points: np.ndarray, out: Path) -> list[Path]:
    """Write the points (N, k) and their metadata; returns the files written.

    `out` ending in .csv: one CSV table, header piece,id,type,frequency,x,y[,z] (pooled text
    embeddings: text,index,label,x,y[,z]). Otherwise
    `out` is a folder, made if needed, holding TensorBoard projector's pair: vectors.tsv (the
    points, one row per token, tab-separated, no header) and metadata.tsv (a header row, then
    piece, id, type, frequency; tabs and line breaks in a piece escaped as \\t, \\n). Each file
    is written whole or not at all."""
    out = Path(out)
    rows = _metadata_rows(e)
    header = TEXTS_HEADER if e.kind == "texts" else METADATA_HEADER
    axes = ["x", "y", "z"][: points.shape[1]]
    if out.suffix.lower() == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header + axes)
        for row, p in zip(rows, points, strict=True):
            w.writerow(row + [f"{v:.6g}" for v in p])
        atomic_write_bytes(out, buf.getvalue().encode("utf-8"))
        return [out]
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: not a folder; name a folder (vectors.tsv and metadata.tsv go "
                        "there) or a .csv file.", field="out")
    vectors = "".join("\t".join(f"{v:.6g}" for v in p) + "\n" for p in points)
    meta = "\t".join(header) + "\n" + "".join(
        "\t".join([_escape(str(r[0])), *(str(c) for c in r[1:])]) + "\n" for r in rows)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "vectors.tsv", vectors.encode("utf-8"))
    atomic_write_bytes(out / "metadata.tsv", meta.encode("utf-8"))
    return [out / "vectors.tsv", out / "metadata.tsv"]


def checkpoints_of(run_dir: Path) -> list[str | int]:
    """The weights a run holds, in training order: kept snapshot steps, then "latest"."""
    if not runs.has_weights(run_dir):
        return []
    return [*(snap.step for snap in runs.list_snapshots(run_dir)), "latest"]
