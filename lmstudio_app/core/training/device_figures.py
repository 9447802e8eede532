"""What a step record says about the device beyond tokens/s: model FLOPs utilisation (MFU) and
CUDA memory. Both are absent where they would not be true: MFU on a device without a known
peak (a CPU, MPS, a GPU not in models.flops' table), memory off CUDA."""

from __future__ import annotations

from typing import Any

import torch

from ..config import ModelConfig
from ..models.flops import mfu


class DeviceFigures:
    """`figures(tokens_per_s)` -> the StepMetrics fields mfu, memory_allocated,
    memory_reserved and max_memory_allocated (bytes, as torch.cuda names them), or {}."""

    def __init__(self, model: ModelConfig, device: torch.device, processes: int) -> None:
        self.model, self.device, self.processes = model, device, processes
        self.name = torch.cuda.get_device_name(device) if device.type == "cuda" else None

    def __call__(self, tokens_per_s: float) -> dict[str, Any]:
        """`tokens_per_s`: the whole job's (every process's tokens), as the step record's."""
        if self.name is None:
            return {}
        return {
            "mfu": mfu(tokens_per_s, self.model, self.name, self.processes),
            "memory_allocated": torch.cuda.memory_allocated(self.device),
            "memory_reserved": torch.cuda.memory_reserved(self.device),
            "max_memory_allocated": torch.cuda.max_memory_allocated(self.device),
        }
