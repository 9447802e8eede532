"""Which tokens are hard: the loss of every token of a passage, and the hardest token types of
a run's validation split.

For a GPT run a token's loss is -ln p(token | the tokens before it in its window): the
next-token cross-entropy the training loss averages (nats). For a BERT run it is the masked-LM
loss at positions selected as the evaluation selects them (15% of the non-special tokens, 80%
[MASK] / 10% random / 10% kept, Devlin et al. 2019), with a fixed seed so the same passage
always shows the same positions; other positions carry no loss (None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.layout import STORE
from ..data.store import TokenStore
from ..errors import UserError
from ..objectives.batches import IGNORE, MaskingSpec, fixed_eval_batches, mask_tokens
from .loading import LoadedRun

MASK_SEED = 0  # the masking of a passage (and of the split's windows): fixed, as evaluation's


@dataclass(frozen=True)
class TokenLoss:
    """One token of a passage: its text, id and loss in nats (None: not scored)."""

    text: str
    token_id: int
    loss: float | None


@dataclass(frozen=True)
class PassageLosses:
    """Every token of a passage with its loss, and the mean over the scored tokens (nats)."""

    tokens: list[TokenLoss]
    mean_loss: float

    def as_dict(self) -> dict[str, Any]:
        return {"mean_loss": self.mean_loss, "tokens": [asdict(t) for t in self.tokens]}


@dataclass(frozen=True)
class HardToken:
    """A token type of the validation split: its mean loss (nats) over `count` occurrences."""

    piece: str
    token_id: int
    mean_loss: float
    count: int


def _masking(tokenizer: Any, prob: float) -> MaskingSpec:
    return MaskingSpec(tokenizer.mask_id, tokenizer.vocab_size, frozenset(tokenizer.special_ids),
                       tokenizer.cls_id, tokenizer.sep_id, prob)


@torch.no_grad()
def position_losses(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """Per-position cross-entropy (B, T) in nats, NaN where the target is ignored (-100).

    A GPT reads `inputs` (B, T) and predicts `targets` (B, T) (the inputs shifted by one); a
    BERT predicts the labelled positions of its masked `inputs`.
    """
    device = next(model.parameters()).device
    inputs, targets = inputs.to(device), targets.to(device)
    logits = model(inputs)[0].float()  # (B, T, V) from either architecture without labels
    loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE,
                           reduction="none")
    return loss.masked_fill(targets == IGNORE, float("nan")).cpu()


def _piece_texts(tokenizer: Any, ids: list[int]) -> list[str]:
    """The text each token adds when the ids are decoded one after another."""
    out, before = [], ""
    for i in range(len(ids)):
        now = tokenizer.decode(ids[: i + 1])
        out.append(now[len(before):] if now.startswith(before) else tokenizer.id_to_piece(ids[i]))
        before = now
    return out


def passage_losses(loaded: LoadedRun, text: str, mask_prob: float | None = None) -> PassageLosses:
    """The loss of each token of `text` under a pretrained run's model.

    GPT: windows of block_size + 1 tokens, one after another, so each token after the first is
    scored once with the context of its window. BERT: the passage is cut to block_size - 2
    tokens, wrapped in [CLS] ... [SEP] and masked as evaluation masks (mask_prob: the run's).
    Raises UserError for a fine-tuned run or a passage of fewer than two tokens.
    """
    cfg, tok, model = loaded.config, loaded.tokenizer, loaded.model
    if cfg.finetune is not None:
        raise UserError(f"{loaded.run_dir} is a fine-tuned run; token losses need a pretrained "
                        "(clm or mlm) run.", field="run")
    ids = tok.encode(text)
    if len(ids) < 2:
        raise UserError("the passage is too short: write at least a few words.", field="text")
    texts = _piece_texts(tok, ids)
    block = cfg.model.block_size
    if cfg.model.arch != "bert":  # a causal decoder (gpt, llama)
        losses: list[float | None] = [None]
        for start in range(0, len(ids) - 1, block):
            window = torch.tensor([ids[start:start + block + 1]])
            losses += position_losses(model, window[:, :-1], window[:, 1:])[0].tolist()
    else:
        ids, texts = ids[: block - 2], texts[: block - 2]
        row = torch.tensor([[tok.cls_id, *ids, tok.sep_id]])
        spec = _masking(tok, mask_prob if mask_prob is not None else cfg.train.mask_prob)
        inputs, labels = mask_tokens(row, mask_id=spec.mask_id, vocab_size=spec.vocab_size,
                                     special_ids=spec.special_ids, prob=spec.prob,
                                     generator=torch.Generator().manual_seed(MASK_SEED))
        losses = position_losses(model, inputs, labels)[0, 1:-1].tolist()
    losses = [None if v is None or v != v else float(v) for v in losses]
    scored = [v for v in losses if v is not None]
    tokens = [TokenLoss(t, i, v) for t, i, v in zip(texts, ids, losses, strict=True)]
    return PassageLosses(tokens, sum(scored) / len(scored) if scored else float("nan"))


def validation_passage(loaded: LoadedRun, n_tokens: int | None = None,
                       store: Path | None = None) -> str:
    """The text of the first `n_tokens` tokens (default: one window, block_size) of a pretrained
    run's validation split: a passage the model did not train on. Raises UserError for a run
    without a validation split of its own (a fine-tuned run)."""
    cfg = loaded.config
    if cfg.finetune is not None or not cfg.data_dir:
        raise UserError(f"{loaded.run_dir} has no validation split of its own; token losses "
                        "need a pretrained (clm or mlm) run.", field="run")
    val = TokenStore.open(store or Path(cfg.data_dir) / STORE).tokens("val")
    ids = [int(i) for i in val[: n_tokens or cfg.model.block_size]]
    return loaded.tokenizer.decode(ids)


def hard_tokens(loaded: LoadedRun, windows: int = 64, min_count: int = 3,
                store: Path | None = None) -> list[HardToken]:
    """The token types of the validation split, hardest first (mean loss, nats).

    Scores `windows` evenly spread validation windows of the run's data folder (the same
    windows, and for BERT the same masking, at every call), then averages by target token.
    Types seen fewer than `min_count` times are left out.
    """
    cfg, tok, model = loaded.config, loaded.tokenizer, loaded.model
    if cfg.finetune is not None or not cfg.data_dir:
        raise UserError(f"{loaded.run_dir} has no validation split of its own; the hard tokens "
                        "need a pretrained (clm or mlm) run.", field="run")
    path = store or Path(cfg.data_dir) / STORE
    val = TokenStore.open(path).tokens("val")
    masking = _masking(tok, cfg.train.mask_prob) if cfg.model.arch == "bert" else None
    batches = fixed_eval_batches(val, cfg.model.block_size, cfg.train.batch_size,
                                 max(1, -(-windows // cfg.train.batch_size)), seed=MASK_SEED,
                                 masking=masking)
    sums = torch.zeros(tok.vocab_size, dtype=torch.float64)
    counts = torch.zeros(tok.vocab_size, dtype=torch.long)
    for inputs, targets in batches:
        loss = position_losses(model, inputs, targets).reshape(-1)
        target = targets.reshape(-1)
        keep = target != IGNORE
        sums.index_add_(0, target[keep], loss[keep].double())
        counts.index_add_(0, target[keep], torch.ones_like(target[keep]))
    seen = (counts >= min_count).nonzero().squeeze(1).tolist()
    out = [HardToken(tok.id_to_piece(i), i, float(sums[i] / counts[i]), int(counts[i]))
           for i in seen]
    return sorted(out, key=lambda h: h.mean_loss, reverse=True)
