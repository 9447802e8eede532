"""LoRA's settings (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"), by
the names of PEFT's `LoraConfig`: `r`, `lora_alpha`, `lora_dropout`, `target_modules`; QLoRA's
4-bit base (Dettmers et al. 2023) by bitsandbytes' `load_in_4bit`.

A run with this section trains low-rank adapters on the linear layers of the blocks (and its task
head in full) over a frozen base run; the network itself is `models.lora`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import UserError

# The linear layers of each body's blocks, by their leaf names: LoRA's default targets.
BLOCK_LINEARS: dict[str, tuple[str, ...]] = {
    "gpt": ("c_attn", "c_proj", "c_fc"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "bert": ("query", "key", "value", "dense"),
}


@dataclass
class LoraSettings:
    """Adapters of rank `r` scaled by `lora_alpha / r`, with dropout `lora_dropout` on their
    input, on the block layers named in `target_modules` (leaf names; empty: every linear layer
    of the blocks, `BLOCK_LINEARS`). `load_in_4bit`: the frozen base in 4-bit NF4 (QLoRA;
    CUDA with bitsandbytes only)."""

    r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=list)
    load_in_4bit: bool = False

    def targets(self, arch: str) -> tuple[str, ...]:
        """The leaf names adapted on a body of `arch`."""
        return tuple(self.target_modules) or BLOCK_LINEARS[arch]

    @property
    def scaling(self) -> float:
        """lora_alpha / r: the factor on B A x."""
        return self.lora_alpha / self.r

    def validate(self, arch: str) -> None:
        """Raises UserError (field r, lora_alpha, lora_dropout or lora_target) for a value out
        of range or a target that is not a linear layer of `arch`'s blocks."""
        if self.r < 1:
            raise UserError(f"r={self.r}: the adapters' rank must be at least 1.", field="r",
                            option="8")
        if not (math.isfinite(self.lora_alpha) and self.lora_alpha > 0):
            raise UserError(f"lora_alpha={self.lora_alpha}: must be above 0.",
                            field="lora_alpha", option="16")
        if not (math.isfinite(self.lora_dropout) and 0.0 <= self.lora_dropout < 1.0):
            raise UserError(f"lora_dropout={self.lora_dropout}: must be in [0, 1).",
                            field="lora_dropout", option="0.05")
        known = BLOCK_LINEARS[arch]
        unknown = [t for t in self.target_modules if t not in known]
        if unknown:
            raise UserError(f"lora_target {', '.join(unknown)}: not a linear layer of this "
                            f"model's blocks; choose among {', '.join(known)}.",
                            field="lora_target", option=",".join(known))
