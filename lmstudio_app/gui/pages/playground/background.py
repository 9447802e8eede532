"""What the Playground runs in BackgroundJobs: loading a run, generating, predicting.

Plain Python over the engine, in worker threads; each function gets the loaded run from the one
job that holds it at the time (the page never hands the model to two jobs at once), and runs the
model in inference mode in that thread (no_grad is per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ....core.inference.attention import AttentionMaps


@dataclass
class ModelInfo:
    loaded: Any  # core.loading.LoadedRun
    n_params: int
    chat: Any = None  # core ChatMode: conversation (chat-tuned) or continue-text, and why


def load_model(path: Path, checkpoint: str | int) -> ModelInfo:
    from ....core.inference.chat import chat_mode
    from ....core.inference.loading import load_run

    loaded = load_run(path, checkpoint, device="auto")
    mode = chat_mode(loaded) if loaded.config.spec.head is None and \
        loaded.config.model.arch != "bert" else None
    return ModelInfo(loaded, sum(p.numel() for p in loaded.model.parameters()), mode)


def _choices(loaded: Any, prompt: str | list[dict[str, str]], settings: dict[str, Any],
             cancel: threading.Event) -> Any:
    """Continue text, or (messages in `prompt`) the chat run's reply under its template."""
    if isinstance(prompt, str):
        from ....core.models.generate import generate_choices

        return generate_choices(loaded.model, loaded.tokenizer, prompt, cancel=cancel,
                                **settings)
    from ....core.inference.chat import chat_format_of
    from ....core.objectives.chat_reply import reply_choices

    fmt = chat_format_of(loaded.run_dir, loaded.tokenizer)
    if fmt is None:
        raise ValueError(f"{loaded.run_dir} keeps no chat template: it continues text")
    options = {k: v for k, v in settings.items() if k != "stop_at_eos"}
    return reply_choices(loaded.model, loaded.tokenizer, fmt, prompt, cancel=cancel, **options)


def stream_reply(loaded: Any, prompt: str | list[dict[str, str]], settings: dict[str, Any],
                 report: Callable[[Any], None], cancel: threading.Event) -> list[Any]:
    """Generate in the worker thread, reporting each token (a core TokenChoice: its text, its
    probability under the sampler's distribution, the top 5 and the entropy) as it comes.
    Returns them all; their texts joined are the reply. `prompt` is text to continue, or a
    chat-tuned run's messages (its template applied, stopping at the end of the turn)."""
    import torch

    choices = []
    with torch.inference_mode():
        for choice in _choices(loaded, prompt, settings, cancel):
            choices.append(choice)
            report(choice)
    return choices


def reply_text(choices: list[Any]) -> str:
    """The text a list of TokenChoices makes."""
    return "".join(c.text for c in choices)


def predict_mask(loaded: Any, text: str, top_k: int) -> list[tuple[str, float]]:
    import torch

    from ....core.inference.predict import fill_mask

    with torch.inference_mode():
        return list(fill_mask(loaded.model, loaded.tokenizer, text, top_k=top_k))


def predict_label(loaded: Any, text: str) -> dict[str, Any]:
    import torch

    from ....core.errors import UserError
    from ....core.inference.predict import classify

    if not text.strip():
        raise UserError("the text is empty; write something to classify.")
    with torch.inference_mode():
        return classify(loaded, [text])[0]


def predict_answer(loaded: Any, question: str, context: str) -> dict[str, Any]:
    import torch

    from ....core.inference.predict import answer

    with torch.inference_mode():
        return dict(answer(loaded, question, context or None))


class ModelSlot:
    """One run's model at one checkpoint, kept between the jobs of one instrument view.

    Only the job the view runs at the time touches it (a view runs one job at a time), so a
    model is never used by two threads at once; each view has its own slot, apart from the
    Playground's own model.
    """

    def __init__(self) -> None:
        self.key: tuple[str, str | int, float] | None = None
        self.loaded: Any = None

    def get(self, path: Path, checkpoint: str | int) -> Any:
        """The run at `path` with `checkpoint`'s weights, loaded again when they changed."""
        from ....core.runs.weights import weights_path

        weights = weights_path(path, checkpoint)
        key = (str(path), checkpoint, weights.stat().st_mtime)
        if key != self.key:
            self.loaded, self.key = None, None
            self.loaded = load_model(path, checkpoint).loaded
            self.key = key
        return self.loaded


@dataclass
class TokenScores:
    """What the hard-tokens view shows: a passage's token losses under one checkpoint, and the
    hardest token types of the validation split."""

    checkpoint: str | int
    arch: str
    passage: Any  # core.inference.token_losses.PassageLosses
    hardest: list[Any] = field(default_factory=list)  # HardToken, hardest first


def score_tokens(slot: ModelSlot, path: Path, checkpoint: str | int, text: str,
                 windows: int = 64) -> TokenScores:
    """Score `text` (empty: the start of the validation split) and the validation split."""
    import torch

    from ....core.inference.token_losses import hard_tokens, passage_losses, validation_passage

    loaded = slot.get(path, checkpoint)
    with torch.inference_mode():
        text = text if text.strip() else validation_passage(loaded)
        passage = passage_losses(loaded, text)
        hardest = hard_tokens(loaded, windows=windows)
    return TokenScores(checkpoint, loaded.config.model.arch, passage, hardest)


def attention_for(slot: ModelSlot, path: Path, checkpoint: str | int,
                  text: str) -> AttentionMaps:
    """The attention maps of the run's model for `text`."""
    import torch

    from ....core.inference.attention import attention_maps

    loaded = slot.get(path, checkpoint)
    with torch.inference_mode():
        return attention_maps(loaded, text)
