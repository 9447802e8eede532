"""Several machines (nodes) training one run under torchrun: before the first step every
process agrees that the run can start and that every node reads the same data.

Each process builds its run configuration on its own (it reads its node's files); a refusal on
any process would otherwise leave the others waiting in their first collective until its
timeout. `agree` gathers every process's outcome at once, so a refusal on one node (a missing
store, a bad flag) stops every node, each saying the same line. On several nodes, one process
per node also reads the run's data (`data_digest`: the token store's content digest, or the
labeled files' bytes), and nodes that read different data are refused before step one.

Node numbers are torchrun's GROUP_RANK (its --node-rank with the static rendezvous); the
process that writes the run folder is global rank 0, on node 0.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..data.layout import STORE
from ..data.store import TokenStore
from ..errors import UserError
from ..util.device import join_process_group, process_rank
from .distributed import world_size

_READ = 1 << 24


class RefusedOnEveryNode(UserError):
    """A refusal every process raises alike; each node's first process says it (one line per
    node), the others stay quiet."""

    said_on_every_node = True


def node_rank() -> int:
    """This process's node (torchrun's GROUP_RANK), 0 when it runs alone."""
    return int(os.environ.get("GROUP_RANK", "0") or 0)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def several_nodes() -> bool:
    """More processes in the job than on this node: the job spans several machines."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0) or world_size()
    return world_size() > local


def data_digest(cfg: RunConfig) -> str:
    """What identifies the data a run reads: the token store's `digest` (pretraining), or the
    sha256 of the labeled files (fine-tuning). Raises UserError when a file is missing."""
    if cfg.finetune is None:
        return TokenStore.open(Path(cfg.data_dir) / STORE).digest()
    h = hashlib.sha256()
    for name in (cfg.finetune.train_file, cfg.finetune.val_file):
        if not name:
            continue
        try:
            with open(name, "rb") as fh:
                while block := fh.read(_READ):
                    h.update(block)
        except OSError as exc:
            raise UserError(f"{name}: cannot read the file ({exc.strerror or exc}).") from None
        h.update(b"\0")
    return h.hexdigest()


def agree(build: Callable[[], RunConfig]) -> RunConfig:
    """`build()` on every process; alone, just that. Under torchrun, every process learns every
    other's outcome: the first refusal (in rank order) is raised on all as RefusedOnEveryNode,
    naming its node when there are several; on several nodes, nodes whose data differ
    (`data_digest`, read once per node) are refused on all before step one."""
    if world_size() <= 1:
        return build()
    import torch.distributed as dist

    join_process_group()
    cfg: RunConfig | None = None
    said: tuple[str, str | None, Any, Any]
    try:
        cfg = build()
        digest = data_digest(cfg) if several_nodes() and local_rank() == 0 else None
        said = ("ok", digest, None, None)
    except UserError as exc:
        said = ("error", str(exc), exc.field, exc.option)
    heard: list[Any] = [None] * world_size()
    dist.all_gather_object(heard, (node_rank(), said))
    _refuse(heard, cfg)
    assert cfg is not None
    return cfg


def _refuse(heard: list[Any], cfg: RunConfig | None) -> None:
    """Raise RefusedOnEveryNode for the first refusal heard, or for nodes whose data differ."""
    many = several_nodes()
    for node, (kind, text, field, option) in heard:
        if kind == "error":
            where = f"node {node}: " if many else ""
            raise RefusedOnEveryNode(f"{where}{text}", field=field, option=option)
    digests = {node: text for node, (_kind, text, _f, _o) in heard if text is not None}
    if len(set(digests.values())) > 1:
        assert cfg is not None
        what = (f"the token store {Path(cfg.data_dir) / STORE}" if cfg.finetune is None
                else "the labeled files")
        seen = ", ".join(f"node {n} {d[:12]}" for n, d in sorted(digests.items()))
        raise RefusedOnEveryNode(
            f"{what} differs between the nodes (sha256 {seen}): every node must read the same "
            "data; put it on a shared filesystem, or copy the same prepared folder to each "
            "node.", field="train_file" if cfg.finetune is not None else "data_dir")


def says_on_this_node(exc: BaseException) -> bool:
    """Whether this process prints `exc`: rank 0 always; for a refusal raised on every node,
    the first process of each node too."""
    return process_rank() == 0 or (getattr(exc, "said_on_every_node", False)
                                   and local_rank() == 0)
