"""What training will take in memory, by part, before it starts.

The parts: the runtime itself (libraries, thread pools: CPU only; on CUDA the context lives
outside PyTorch's allocator), weights with their gradients and AdamW's two moments (16 bytes a
parameter in fp32), the activations kept for the backward pass (per layer, token and width, as in
Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models"), the
output logits with their softmax and gradient, and the attention scores where the attention
kernel keeps any. The CPU constants were fitted to the peak resident-memory growth of real
training steps on 17 GPT and BERT shapes (1k to 14M parameters; within 25%, most within 12%;
`bench/memory_estimate.py` prints the comparison); the CUDA constants follow from bf16 autocast
and flash attention and are checked by `bench/gpu.py` against torch.cuda.max_memory_allocated.
The machine's own memory is util.memory's. A LoRA run (Hu et al. 2021) keeps gradients and
AdamW's moments only for what it trains (the adapters and the head): its frozen base costs its
weights alone, 4 bytes a parameter in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import RunConfig
from ..errors import UserError
from ..util.units import human_bytes

MIB = 1 << 20
# Bytes per unit of each part, by device type: fitted on the CPU (fp32), derived for CUDA.
_CONSTANTS = {
    "cpu": {"runtime": 108 * MIB, "per_parameter": 16.35, "per_activation": 69.2,
            "per_logit": 12.8, "per_score": 1.8},
    "cuda": {"runtime": 0, "per_parameter": 16.0, "per_activation": 34.0,
             "per_logit": 10.0, "per_score": 0.0},
}
FROZEN_BYTES = 4.0  # a frozen fp32 weight: no gradient, no optimizer state
_MLM_LABELLED = 0.15  # a BERT's vocabulary projection runs only at the masked positions


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes by part; `total` is their sum and `dominant` names the largest part."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    @property
    def dominant(self) -> str:
        return max(self.parts, key=self.parts.__getitem__)


def estimate_training_memory(cfg: RunConfig, n_params: int, device_type: str) -> MemoryEstimate:
    """Peak memory of a training step of `cfg` (n_params distinct parameters) on a "cpu",
    "cuda" or "mps" device (MPS is estimated as the CPU). One micro-batch of batch_size
    windows is live at a time, whatever grad_accum is."""
    k = _CONSTANTS["cuda" if device_type == "cuda" else "cpu"]
    m, t = cfg.model, cfg.train
    T = (cfg.finetune.max_length if cfg.finetune and cfg.finetune.max_length else 0) \
        or m.block_size
    tokens = t.batch_size * T
    spec = cfg.spec
    if spec.head is not None:
        logits = 0.0  # a task head: a few outputs per example, not the vocabulary per token
    else:
        logits = tokens * m.vocab_size * (_MLM_LABELLED if m.arch == "bert" else 1.0)
    trained = lora_trainable(cfg) if cfg.lora is not None else n_params
    parts = {
        "runtime": int(k["runtime"]),
        "weights and optimizer": int(trained * k["per_parameter"]
                                     + (n_params - trained) * FROZEN_BYTES),
        "activations": int(tokens * m.n_embd * m.n_layer * k["per_activation"]),
        "logits": int(logits * k["per_logit"]),
        "attention scores": int(t.batch_size * m.n_head * T * T * m.n_layer * k["per_score"]),
    }
    return MemoryEstimate({name: v for name, v in parts.items() if v > 0})


def lora_trainable(cfg: RunConfig) -> int:
    """The parameters a LoRA run trains: r (in + out) for each adapted linear layer, and the
    task head in full (counted on the meta device: no memory used)."""
    from ..models import build_model
    from ..models.heads import build_task_model
    from ..models.lora import HEAD, target_names

    lora = cfg.lora
    if lora is None:
        raise ValueError("not a LoRA configuration")
    with torch.device("meta"):
        model = build_task_model(cfg) if cfg.finetune is not None else build_model(cfg.model)
    layers = dict(model.named_modules())
    adapters = sum(lora.r * (layers[n].in_features + layers[n].out_features)
                   for n in target_names(model, lora, cfg.model.arch))
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith(f"{HEAD}."))
    return int(adapters + head)


# The settings that shrink each part most directly (config field names), first the cheapest.
SHRINKS = {
    "activations": ("batch_size", "block_size", "n_layer"),
    "logits": ("batch_size", "block_size"),
    "attention scores": ("block_size", "batch_size"),
    "weights and optimizer": ("n_layer", "n_embd"),
}


def too_big(estimate: MemoryEstimate, limit: int | None, where: str) -> UserError | None:
    """A UserError naming the settings to lower when `estimate` exceeds `limit` bytes, the
    memory `where` ("on this machine", "on cuda:0"); None when it fits or the limit is unknown.

    Raises nothing: the caller decides whether it is a warning or a refusal (the estimate is
    within ~25% of the measured peak, see the module's docstring)."""
    if not limit or estimate.total <= limit:
        return None
    part = estimate.dominant
    fields = SHRINKS.get(part, ())
    advice = "lower these settings" if fields else "choose a smaller model"
    return UserError(
        f"about {human_bytes(estimate.total)} to train, more than the {human_bytes(limit)} "
        f"of memory {where}; {part} take {human_bytes(estimate.parts[part])} of it: {advice}.",
        field=fields)
