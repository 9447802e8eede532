"""The engine's facts the window shows (devices, their memory), read once PyTorch is loaded.

Importing PyTorch takes seconds, longer than the whole window takes to appear, and nothing on
the first frame needs it. So the app shows the window first and loads the engine in a worker
thread (AppState.load_engine_in_background); until it has, `AppState.engine()` is None and the
pages say the engine is loading. Where no background load was asked for (tests, scripts), the
first `engine()` call reads the facts at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # as `device` in the config spells it: "cpu", "cuda:0", "mps"
    description: str  # "CPU: 2 threads (x86_64)", "CUDA: NVIDIA ..., 80 GiB"
    memory_bytes: int | None  # what training on it can use at most; None when unknown


@dataclass(frozen=True)
class EngineInfo:
    devices: tuple[DeviceInfo, ...]  # every device here, the one `auto` picks first
    default: str  # the description of the device `auto` picks
    error: str = ""  # why the engine could not load ("" when it did)

    def device(self, name: str) -> DeviceInfo | None:
        return next((d for d in self.devices if d.name == name), None)


def placeholder() -> EngineInfo:
    """What the window shows while the engine loads: the CPU, nothing else known yet."""
    from ..core.util.memory import physical_memory_bytes

    return EngineInfo((DeviceInfo("cpu", "CPU", physical_memory_bytes()),), "")


def read_engine_info() -> EngineInfo:
    """Import PyTorch and the training loop (the slow part), then list the devices.

    Runs in a worker thread at start-up. A broken installation gives an EngineInfo with its
    error and the CPU alone, never an exception: the window must open to say what is wrong."""
    from ..core.util.memory import physical_memory_bytes

    try:
        import torch

        from ..core.config import PRETRAIN_OBJECTIVES, build_run_config
        from ..core.models import count_parameters
        from ..core.training import trainer  # noqa: F401 (loaded now, not when Start is pressed)
        from ..core.util.device import available_devices, describe_device, resolve_device

        # The first model built on the meta device (the form's parameter count) imports much
        # of PyTorch lazily: a second and more of the GUI thread's time, unless it happens here.
        for objective in PRETRAIN_OBJECTIVES:
            count_parameters(build_run_config(objective, "tiny", 256).model)

        devices = []
        for name, description in available_devices():
            memory = physical_memory_bytes()
            if name.startswith("cuda"):
                memory = torch.cuda.get_device_properties(torch.device(name)).total_memory
            devices.append(DeviceInfo(name, description, memory))
        return EngineInfo(tuple(devices), describe_device(resolve_device("auto")))
    except Exception as exc:  # a broken driver or install must not keep the window from opening
        log.exception("the engine could not load")
        return EngineInfo((DeviceInfo("cpu", "CPU", physical_memory_bytes()),), "",
                          error=f"{type(exc).__name__}: {exc}")
