"""What the Playground runs in BackgroundJobs: loading a run, generating, predicting.

Plain Python over the engine, in worker threads; each function gets the loaded run from the one
job that holds it at the time (the page never hands the model to two jobs at once), and runs the
model in inference mode in that thread (no_grad is per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ModelInfo:
    loaded: Any  # core.loading.LoadedRun
    n_params: int


def load_model(path: Path, checkpoint: str | int) -> ModelInfo:
    from ....core.inference.loading import load_run

    loaded = load_run(path, checkpoint, device="auto")
    return ModelInfo(loaded, sum(p.numel() for p in loaded.model.parameters()))


def stream_reply(loaded: Any, prompt: str, settings: dict[str, Any],
                 report: Callable[[Any], None], cancel: threading.Event) -> str:
    """Generate in the worker thread, reporting each piece as it comes."""
    import torch

    from ....core.models.generate import generate

    parts = []
    with torch.inference_mode():
        for piece in generate(loaded.model, loaded.tokenizer, prompt, cancel=cancel,
                              **settings):
            parts.append(piece)
            report(piece)
    return "".join(parts)


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
