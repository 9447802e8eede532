"""What training takes while it runs: the process's resident memory and, on a CUDA device, the
GPU's memory and utilisation. Sampled at each log step (a few microseconds: one small /proc
read, two NVML queries), recorded in the step metrics, shown in the window's status bar.

Process memory is the resident set size (RSS): Linux's /proc/self/statm, else psutil where it
is installed. GPU figures come from NVIDIA's management library through nvidia-ml-py (the
`pynvml` module; an optional dependency, `pip install nvidia-ml-py`): the device's used memory
(all processes, as nvidia-smi shows it) and its utilisation over the driver's last sample period
(percent of time a kernel ran). Whatever cannot be measured is None, never a guess.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

_STATM = "/proc/self/statm"


@dataclass(frozen=True)
class ResourceSample:
    rss_bytes: int | None = None  # the process's resident memory, bytes
    gpu_memory_bytes: int | None = None  # memory used on the training GPU, bytes
    gpu_utilization: float | None = None  # percent of the last sample period a kernel ran


def process_rss() -> int | None:
    """The resident memory of this process in bytes, or None where it cannot be read."""
    try:
        with open(_STATM, "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - a monitor never stops training
        return None


class GpuMonitor:
    """NVML handle of one CUDA device, opened once; `sample()` is None-filled when NVML (the
    nvidia-ml-py package, or the driver's library) is missing or the device is not NVIDIA's."""

    def __init__(self, device: Any) -> None:
        self._nvml: Any = None
        self._handle: Any = None
        if getattr(device, "type", None) != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = _handle_of(pynvml, device)
            self._nvml = pynvml
        except Exception:  # noqa: BLE001 - no package, no driver library, not an NVIDIA GPU
            self._nvml = self._handle = None

    @property
    def available(self) -> bool:
        return self._handle is not None

    def sample(self) -> tuple[int | None, float | None]:
        """(used memory in bytes, utilisation in percent) of the device, or (None, None)."""
        if self._handle is None:
            return None, None
        try:
            memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
            rates = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
            return int(memory.used), float(rates.gpu)
        except Exception:  # noqa: BLE001 - a driver hiccup: this sample has no GPU figures
            return None, None


def _handle_of(pynvml: Any, device: Any) -> Any:
    """The NVML handle of a torch CUDA device: by PCI bus id, since CUDA_VISIBLE_DEVICES
    renumbers devices for CUDA but not for NVML; by index where the bus id is unknown."""
    import torch

    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    bus = getattr(props, "pci_bus_id", None)
    if bus is not None:
        bus_id = (f"{getattr(props, 'pci_domain_id', 0):08x}:{bus:02x}:"
                  f"{getattr(props, 'pci_device_id', 0):02x}.0")
        try:
            return pynvml.nvmlDeviceGetHandleByPciBusId(bus_id)
        except Exception:  # noqa: BLE001 - fall back to the index
            pass
    return pynvml.nvmlDeviceGetHandleByIndex(index)


class ResourceSampler:
    """Samples the process (and its GPU, when it trains on one) for the step metrics."""

    def __init__(self, device: Any = None) -> None:
        self.gpu = GpuMonitor(device)

    def sample(self) -> ResourceSample:
        memory, utilization = self.gpu.sample()
        return ResourceSample(process_rss(), memory, utilization)
