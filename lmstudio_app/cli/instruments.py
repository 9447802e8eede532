"""Instruments from the terminal: token losses of a passage, the hardest token types of the
validation split, and attention weights, as tables, JSON or CSV files a person can open."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .args import add_loaded_run, checkpoint_choice, count, positive_int


def _text(args: argparse.Namespace) -> str:
    from ..core.errors import UserError

    if args.file:
        try:
            return Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{args.file}: cannot read it as UTF-8 text ({exc}).",
                            field="file") from None
    if args.text is None:
        raise UserError("give the text: TEXT or --file FILE.", field="text")
    text: str = args.text
    return text


def _add_text(s: argparse.ArgumentParser) -> None:
    s.add_argument("text", nargs="?", metavar="TEXT")
    s.add_argument("--file", metavar="FILE", help="read the text from a UTF-8 file")


def add_token_losses_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    _add_text(s)
    s.add_argument("--json", action="store_true")


def run_token_losses(args: argparse.Namespace) -> int:
    from ..core.inference.loading import load_run
    from ..core.inference.token_losses import passage_losses

    found = passage_losses(load_run(Path(args.run), args.checkpoint, args.device), _text(args))
    if args.json:
        print(json.dumps(found.as_dict()))
        return 0
    for t in found.tokens:
        loss = f"{t.loss:7.3f}" if t.loss is not None else "      -"
        print(f"{loss}  {t.text!r}")
    print(f"mean loss {found.mean_loss:.4f} nats per scored token", file=sys.stderr)
    return 0


def add_hard_tokens_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    s.add_argument("--windows", type=positive_int, default=64, metavar="N",
                   help="validation windows to score (default 64)")
    s.add_argument("--min-count", type=positive_int, default=3, metavar="N",
                   help="leave out token types seen fewer times (default 3)")
    s.add_argument("--top", type=positive_int, default=30, metavar="N",
                   help="rows shown in the terminal (default 30)")
    s.add_argument("--csv", metavar="FILE", help="write the whole table as CSV")
    s.add_argument("--json", action="store_true", help="the whole table as JSON on stdout")


def run_hard_tokens(args: argparse.Namespace) -> int:
    from ..core.inference.loading import load_run
    from ..core.inference.token_losses import hard_tokens
    from ..core.util.atomic import atomic_path

    table = hard_tokens(load_run(Path(args.run), args.checkpoint, args.device),
                        windows=args.windows, min_count=args.min_count)
    rows = [{"piece": h.piece, "token_id": h.token_id, "mean_loss": h.mean_loss,
             "count": h.count} for h in table]
    if args.csv:
        with atomic_path(args.csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["piece", "token_id", "mean_loss", "count"])
            writer.writeheader()
            writer.writerows(rows)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'mean loss':>9}  {'count':>6}  piece")
    for r in rows[: args.top]:
        print(f"{r['mean_loss']:9.3f}  {r['count']:6d}  {r['piece']!r}")
    return 0


def add_attention_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    _add_text(s)
    s.add_argument("--layer", type=count, default=None, metavar="L",
                   help="print this layer's heads (default: the last layer)")
    s.add_argument("--out", metavar="FILE.json",
                   help="write every layer and head's weights as JSON")


def run_attention(args: argparse.Namespace) -> int:
    from ..core.errors import UserError
    from ..core.inference.attention import attention_maps
    from ..core.inference.loading import load_run
    from ..core.util.atomic import atomic_write_json

    maps = attention_maps(load_run(Path(args.run), args.checkpoint, args.device), _text(args))
    if args.out:
        atomic_write_json(args.out, maps.as_dict())
    n_layer = maps.weights.shape[0]
    layer = n_layer - 1 if args.layer is None else args.layer
    if not 0 <= layer < n_layer:
        raise UserError(f"layer {layer}: the model has layers 0 to {n_layer - 1}.",
                        field="layer", option=str(n_layer - 1))
    for head, weights in enumerate(maps.weights[layer]):
        print(f"layer {layer} head {head}: each token and the token it attends to most")
        for i, row in enumerate(weights):
            j = int(row.argmax())
            print(f"  {maps.tokens[i]!r:>16} -> {maps.tokens[j]!r} {float(row[j]):.2f}")
    return 0


def add_embeddings_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("--checkpoint", type=checkpoint_choice, default="latest",
                   metavar="best|latest|STEP", help="which weights (default latest)")
    s.add_argument("--out", required=True, metavar="DIR|FILE.csv",
                   help="a folder for TensorBoard projector's vectors.tsv and metadata.tsv, or "
                        "a .csv file (piece,id,type,frequency,x,y[,z])")
    s.add_argument("--dimensions", type=positive_int, choices=(2, 3), default=2)
    s.add_argument("--method", choices=("pca", "umap"), default="pca",
                   help="umap needs umap-learn (pip install \"lmstudio-app[umap]\")")
    s.add_argument("--texts", action="store_true",
                   help="a fine-tuned classifier: the pooled embeddings of its validation texts "
                        "(what its head reads), labelled, instead of the token embeddings")
    s.add_argument("--neighbours", metavar="PIECE",
                   help="also print the 10 tokens nearest this piece by cosine similarity")


def run_embeddings(args: argparse.Namespace) -> int:
    from ..core.errors import UserError
    from ..core.inference.embeddings import (
        neighbours,
        pooled_embeddings,
        project,
        token_embeddings,
        write_projector,
    )

    read = pooled_embeddings if args.texts else token_embeddings
    e = read(Path(args.run), args.checkpoint)
    points = project(e.vectors, args.dimensions, args.method)
    for path in write_projector(e, points, Path(args.out)):
        print(f"wrote {path}", file=sys.stderr)
    if args.neighbours is not None:
        if args.neighbours not in e.pieces:
            raise UserError(f"{args.neighbours!r} is not a piece of this run's tokenizer.",
                            field="neighbours")
        for j, sim in neighbours(e.vectors, e.pieces.index(args.neighbours)):
            print(f"{sim:.4f}\t{e.pieces[j]}")
    return 0
