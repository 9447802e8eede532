"""The one place that picks the device and sets up (optionally) the process group.

`auto` takes CUDA, else Apple MPS, else the CPU. Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK
in the environment) it starts the process group and binds each process to its local GPU.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch

from ..errors import UserError


@dataclass(frozen=True)
class Runtime:
    """Where this process trains: its device, precision and place in a distributed job."""

    device: torch.device
    dtype: torch.dtype  # autocast dtype; float32 means no autocast
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def available_devices() -> list[tuple[str, str]]:
    """Every device this machine offers, as (name for --device, description)."""
    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", describe_device(torch.device("cuda", i))))
    if _mps_available():
        out.append(("mps", "MPS (Apple GPU)"))
    out.append(("cpu", describe_device(torch.device("cpu"))))
    return out


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """Turn `auto`, `cpu`, `cuda`, `cuda:N` or `mps` into a device that exists here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(
                f"device {name}: no CUDA GPU is visible to PyTorch here "
                f"(torch {torch.__version__}). Train on the CPU, or install a CUDA build of "
                "torch.", field="device", option="cpu"
            )
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"device {name}: only {torch.cuda.device_count()} GPU(s) here.",
                            field="device", option="cuda:0")
        return dev
    if name == "mps":
        if not _mps_available():
            raise UserError("device mps: Apple MPS is not available here; train on the CPU.",
                            field="device", option="cpu")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"device {name}: choose auto, cpu, cuda, cuda:N or mps.", field="device")


def pick_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """bf16 autocast on CUDA where supported (fp16 with a scaler elsewhere on CUDA), fp32 else."""
    if requested == "float32":
        return torch.float32
    if requested == "bfloat16":
        return torch.bfloat16
    if requested == "float16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def process_rank() -> int:
    """This process's rank under torchrun (RANK), 0 when it runs alone."""
    return int(os.environ.get("RANK", "0") or 0)


def join_process_group() -> None:
    """Join torchrun's process group once: gloo for CPU tensors, and NCCL for CUDA ones where a
    GPU exists. A no-op when the process runs alone (no WORLD_SIZE above 1) or has joined."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0") or 0)
        if local < torch.cuda.device_count():
            torch.cuda.set_device(local)
        dist.init_process_group(backend="cpu:gloo,cuda:nccl")
    else:
        dist.init_process_group(backend="gloo")


def setup_runtime(device: str = "auto", dtype: str = "auto") -> Runtime:
    """Pick the device; under torchrun, also join the process group (NCCL on CUDA, else gloo)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = process_rank()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world_size > 1 and device in ("auto", "cuda") and torch.cuda.is_available():
        device = f"cuda:{local_rank}"
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    join_process_group()
    return Runtime(dev, pick_dtype(dev, dtype), rank, world_size, local_rank)


def teardown_runtime(rt: Runtime) -> None:
    if rt.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def describe_device(device: torch.device) -> str:
    """'CUDA: <name>, <memory>', 'MPS' or 'CPU: N threads'."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"CUDA: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    if device.type == "mps":
        return "MPS"
    cpu = platform.processor() or platform.machine()
    n = torch.get_num_threads()
    return f"CPU: {n} thread{'s' if n != 1 else ''}" + (f" ({cpu})" if cpu else "")
