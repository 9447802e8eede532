"""`RunLM`: lm-evaluation-harness's model interface over a loaded causal run (imports lm_eval;
`benchmark` imports this module only once lm_eval is known to be installed).

It answers lm_eval's three requests as lm_eval's `hf` model (`HFLM`) does, with our forward
pass and our sampler:
- loglikelihood: (context, continuation) split into tokens by `TemplateLM._encode_pair`, the
  window (context + continuation)[-(max_length + 1):][:-1], the summed log-probabilities of the
  continuation's tokens and whether greedy decoding gives every one of them;
- loglikelihood_rolling: the disjoint rolling windows of `lm_eval.utils`;
- generate_until: greedy (or sampled with do_sample) continuation cut before the first `until`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval import utils
from lm_eval.api.model import TemplateLM

from ..models.generate import generate_choices
from .loading import LoadedRun

Request = tuple[Any, list[int], list[int]]  # (key, context ids, continuation ids)


class RunLM(TemplateLM):  # type: ignore[misc]  # lm_eval ships no type information
    """lm_eval's TemplateLM over a LoadedRun; rows of `batch_size` per forward pass."""

    backend = "causal"

    def __init__(self, loaded: LoadedRun, batch_size: int = 8) -> None:
        super().__init__()
        self.loaded = loaded
        self.batch_size = max(1, batch_size)
        self.max_length = loaded.config.model.max_positions or loaded.config.model.block_size
        self._model_device = next(loaded.model.parameters()).device

    @property
    def eot_token_id(self) -> int:
        return int(self.loaded.tokenizer.eos_id)

    @property
    def prefix_token_id(self) -> int:
        """What an empty context starts from: the beginning-of-text token (HFLM's choice when
        the tokenizer has one, as ours always does)."""
        return int(self.loaded.tokenizer.bos_id)

    def tok_encode(self, string: str, add_special_tokens: bool | None = None,
                   **kwargs: Any) -> list[int]:
        return list(self.loaded.tokenizer.encode(string))

    def tok_decode(self, tokens: Iterable[int]) -> str:
        return str(self.loaded.tokenizer.decode(list(tokens)))

    @torch.no_grad()
    def _score(self, rows: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """(sum of log p(continuation | context) in nats, whether greedy decoding gives it) for
        each (context ids, continuation ids): one forward pass (B, T) -> logits (B, T, V) over
        the rows padded on the right (a causal model's earlier positions never see the pad)."""
        windows = [(ctx + cont)[-(self.max_length + 1):][:-1] for ctx, cont in rows]
        batch = torch.zeros(len(rows), max(len(w) for w in windows), dtype=torch.long)
        for i, w in enumerate(windows):
            batch[i, : len(w)] = torch.tensor(w)
        logits = self.loaded.model(batch.to(self._model_device))[0]
        if logits.dtype != torch.float64:  # a float64 model keeps its precision
            logits = logits.float()
        logprobs = F.log_softmax(logits, dim=-1).cpu()
        out = []
        for i, ((_, cont), w) in enumerate(zip(rows, windows, strict=True)):
            lp = logprobs[i, len(w) - len(cont): len(w)]  # (n_cont, V)
            target = torch.tensor(cont)
            greedy = bool((lp.argmax(dim=-1) == target).all())
            out.append((float(lp.gather(1, target[:, None]).sum()), greedy))
        return out

    def _loglikelihood_tokens(self, requests: list[Request], disable_tqdm: bool = False,
                              **kwargs: Any) -> list[tuple[float, bool]]:
        # Longest first, so a batch holds rows of similar length (HFLM's order).
        order = sorted(range(len(requests)), key=lambda i: _longest_first(requests[i]))
        results: dict[int, tuple[float, bool]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start: start + self.batch_size]
            scored = self._score([(requests[i][1], requests[i][2]) for i in chunk])
            for i, r in zip(chunk, scored, strict=True):
                results[i] = r
                if requests[i][0] is not None:
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], r)
        return [results[i] for i in range(len(requests))]

    def loglikelihood_rolling(self, requests: list[Any],
                              disable_tqdm: bool = False) -> list[float]:
        out = []
        for req in requests:
            (string,) = req.args
            windows = map(utils.make_disjoint_window, utils.get_rolling_token_windows(
                token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length, context_len=1))
            total = sum(ll for ll, _ in self._loglikelihood_tokens(
                [(None, list(ctx), list(cont)) for ctx, cont in windows]))
            self.cache_hook.add_partial("loglikelihood_rolling", (string,), total)
            out.append(total)
        return out

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        out = []
        for req in requests:
            context, gen_kwargs = req.args
            text = greedy_until(self.loaded, context, dict(gen_kwargs))
            self.cache_hook.add_partial("generate_until", req.args, text)
            out.append(text)
        return out


def _longest_first(request: Request) -> tuple[int, tuple[int, ...]]:
    tokens = request[1] + request[2]
    return -len(tokens), tuple(tokens)


def greedy_until(loaded: LoadedRun, context: str, gen_kwargs: dict[str, Any]) -> str:
    """The continuation of `context` by our sampler (greedy unless do_sample), cut before the
    first of gen_kwargs["until"], at most max_gen_toks tokens (default 256) and stopping at the
    end-of-text token, as lm_eval's hf model does."""
    until = gen_kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    sample = bool(gen_kwargs.get("do_sample", False))
    text = ""
    for choice in generate_choices(
            loaded.model, loaded.tokenizer, context,
            max_new_tokens=int(gen_kwargs.get("max_gen_toks", 256)),
            temperature=float(gen_kwargs.get("temperature", 1.0)) if sample else 0.0,
            top_k=None, top_p=None, seed=0):
        text += choice.text
        if any(u in text for u in until):
            break
    for u in until:
        text = text.split(u)[0]
    return text
