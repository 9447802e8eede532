"""Data-parallel training over the processes torchrun starts (PyTorch DDP).

The rules every rank keeps, so N processes train exactly the run one process would:

- Rank 0 alone creates and writes the run folder; what it decides (the folder, a refusal) is
  sent to the others (`on_main`), so every rank succeeds or fails together and only one says why.
- Each step draws one global batch of `batch_size * grad_accum * world_size` rows from the
  seeded stream every rank holds (the same seed everywhere), and each rank trains on its own
  contiguous slice (`rank_rows`). The stream is the one a single process draws from, so the
  batches, the global batch and the learning-rate schedule do not depend on the world size.
- The loss logged and the decision to stop are reduced across ranks every step
  (`reduce_step`): every rank stops after the same step, and rank 0 saves once.

Follows torch.nn.parallel.DistributedDataParallel's and torchrun's conventions (RANK,
WORLD_SIZE, LOCAL_RANK in the environment; gloo on CPUs, NCCL on GPUs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from ..errors import UserError
from ..objectives.base import Batch
from ..util.device import join_process_group, process_rank

T = TypeVar("T")


class DecidedOnMain(UserError):
    """A refusal rank 0 met and reported; the other ranks fail with it without repeating it."""


def world_size() -> int:
    """WORLD_SIZE under torchrun, 1 when the process runs alone."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def leave_process_group() -> None:
    """Leave the process group (at the end of a command)."""
    if world_size() <= 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank arrives (a no-op alone)."""
    if world_size() > 1:
        import torch.distributed as dist

        join_process_group()
        dist.barrier()


def on_main(decide: Callable[[], T]) -> T:
    """Rank 0 runs `decide`; every rank returns its result, or raises the UserError it raised.

    Other ranks raise it as DecidedOnMain, so a command line can leave the saying to rank 0.
    Alone, this is just `decide()`.
    """
    if world_size() <= 1:
        return decide()
    import torch.distributed as dist

    join_process_group()
    box: list[Any] = [None]
    error: UserError | None = None
    if process_rank() == 0:
        try:
            box[0] = ("ok", decide())
        except UserError as exc:
            error = exc
            box[0] = ("error", str(exc), exc.field, exc.option)
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    outcome = box[0]
    if outcome[0] == "error":
        raise DecidedOnMain(outcome[1], field=outcome[2], option=outcome[3])
    return outcome[1]  # type: ignore[no-any-return]


def first_failure(failure: str | None) -> str | None:
    """Every rank says what failed for it (None: nothing); all get the first failure, as
    "rank N: ..." (alone: `failure`). Each rank must call it at the same point."""
    if world_size() <= 1:
        return failure
    import torch.distributed as dist

    said: list[str | None] = [None] * world_size()
    dist.all_gather_object(said, failure)
    return next((f"rank {r}: {f}" for r, f in enumerate(said) if f is not None), None)


def rank_rows(n_rows: int, rank_: int, world: int) -> slice:
    """The contiguous rows of a global batch of `n_rows` that rank `rank_` of `world` trains on.

    Raises ValueError when the rows do not split evenly (the trainer draws batch_size *
    grad_accum * world rows, which always do)."""
    if n_rows % world:
        raise ValueError(f"{n_rows} rows do not split evenly over {world} processes")
    per = n_rows // world
    return slice(rank_ * per, (rank_ + 1) * per)


def take_rows(batch: Batch, rows: slice) -> Batch:
    """The same rows of every tensor of a batch (tensors share their first dimension)."""
    return tuple(b[rows] for b in batch)


def micro_slices(n_rows: int, micro: int) -> list[slice]:
    """`n_rows` in micro-batches of `micro` rows (the last may be smaller)."""
    return [slice(lo, min(lo + micro, n_rows)) for lo in range(0, n_rows, micro)]


def reduce_step(loss: torch.Tensor, stop: bool,
                pause: bool) -> tuple[torch.Tensor, bool, bool]:
    """One all-reduce per step: (the mean of the ranks' step losses, whether any rank was asked
    to stop, to pause). `loss` is a 0-dim tensor on the training device. A pause agreed so is
    taken by every rank at one step boundary: none waits inside a collective (which times
    out) while another is paused."""
    import torch.distributed as dist

    flags = torch.tensor([float(stop), float(pause)], device=loss.device)
    both = torch.cat([loss.detach().float().reshape(1), flags])
    dist.all_reduce(both, op=dist.ReduceOp.SUM)
    return both[0] / world_size(), bool(both[1].item() > 0), bool(both[2].item() > 0)


def reduce_sums(values: list[float], device: torch.device) -> list[float]:
    """Sums of `values` over the ranks (an evaluation's loss totals and batch counts)."""
    if world_size() <= 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()
