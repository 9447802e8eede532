"""Model FLOPs utilisation (MFU): the share of the device's peak dense bf16 rate a run uses.

FLOPs per token follow PaLM's appendix B as nanoGPT's `estimate_mfu` does: 6 N for the
forward and backward matrix multiplies of N parameters (the position table excluded, the tied
output projection counted), plus 12 L H Q T for attention (L layers, H heads of width Q, window
T). Peaks are the vendors' dense (no sparsity) bf16 tensor-core figures with fp32 accumulation;
a device not in the table gets no MFU rather than a wrong one.
"""

from __future__ import annotations

from ..config import ModelConfig

# Dense bf16 FLOP/s by device-name fragment (vendor data sheets). Longer fragments win, so
# "H100 PCIe" is matched before "H100".
PEAK_BF16_FLOPS: dict[str, float] = {
    "A100": 312e12,
    "A10G": 70e12,
    "A10": 125e12,
    "A30": 165e12,
    "A40": 150e12,
    "RTX A6000": 155e12,
    "L4": 121e12,
    "L40S": 362e12,
    "L40": 181e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,  # SXM
    "H200": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "RTX 3090": 71e12,
    "RTX 4090": 165e12,
    "RTX 5090": 209e12,
}


def peak_bf16_flops(device_name: str) -> float | None:
    """The table's peak for a CUDA device name (as torch.cuda.get_device_name gives it)."""
    for fragment in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):
        if fragment.lower() in device_name.lower():
            return PEAK_BF16_FLOPS[fragment]
    return None


def non_embedding_parameters(cfg: ModelConfig) -> int:
    """Parameters that take part in the matrix multiplies: all but the position table (a
    Llama has none, but its untied input embedding is a lookup, not a multiply)."""
    from . import count_parameters

    if cfg.arch == "llama":
        lookup = 0 if cfg.tie_word_embeddings else cfg.vocab_size * cfg.n_embd
        return count_parameters(cfg) - lookup
    return count_parameters(cfg) - cfg.max_positions * cfg.n_embd


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> float:
    """Training FLOPs per token (forward and backward) at window `seq_len` (block_size)."""
    T = seq_len or cfg.block_size
    return 6 * non_embedding_parameters(cfg) + 12 * cfg.n_layer * cfg.n_head * cfg.head_dim * T


def mfu(tokens_per_s: float, cfg: ModelConfig, device_name: str, n_devices: int = 1,
        seq_len: int | None = None) -> float | None:
    """Achieved FLOP/s over the peak of `n_devices` such devices, in [0, 1]; None when the
    device's peak is unknown (a CPU, MPS, or a GPU not in the table)."""
    peak = peak_bf16_flops(device_name)
    if peak is None or tokens_per_s <= 0:
        return None
    return tokens_per_s * flops_per_token(cfg, seq_len) / (peak * n_devices)
