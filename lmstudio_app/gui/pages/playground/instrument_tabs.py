"""The Playground's tabs: trying the run (chat, fill-mask, a task's panel) and the instruments
that look inside a model: Compare (two GPT runs on one prompt), Hard tokens, Attention,
Embeddings (the token embeddings projected, across checkpoints).

The instruments follow the run and checkpoint picked at the top of the page; each keeps its own
copy of the model it needs, apart from the page's (see background.ModelSlot).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QTabWidget, QWidget

from ....core import runs
from ...objectives import panel, title
from .attention_panel import AttentionPanel
from .compare_panel import ComparePanel
from .embeddings_panel import EmbeddingsPanel
from .hard_tokens_panel import HardTokensPanel

TRY, COMPARE, HARD_TOKENS, ATTENTION, EMBEDDINGS = range(5)


class InstrumentTabs(QTabWidget):
    """Try | Compare | Hard tokens | Attention | Embeddings, each enabled for the runs it can
    read."""

    def __init__(self, try_page: QWidget, sampling: Callable[[], dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)  # no frame of its own: the page's height goes to the views
        self.compare_panel = ComparePanel(sampling)
        self.hard_tokens_panel = HardTokensPanel()
        self.attention_panel = AttentionPanel()
        self.addTab(try_page, "Try it")
        self.addTab(self.compare_panel, "Compare")
        self.addTab(self.hard_tokens_panel, "Hard tokens")
        self.addTab(self.attention_panel, "Attention")
        self.embeddings_panel = EmbeddingsPanel()
        self.addTab(self.embeddings_panel, "Embeddings")
        self.setTabToolTip(EMBEDDINGS, "The token embeddings in 2-D across the kept checkpoints, "
                                       "and each token's nearest neighbours")
        self.setTabToolTip(COMPARE, "Two GPT runs or checkpoints, one prompt, side by side")
        self.setTabToolTip(HARD_TOKENS, "Which tokens of a validation passage the model finds "
                                        "hard (pretrained runs)")
        self.setTabToolTip(ATTENTION, "What each token attends to, per layer and head")

    def set_runs(self, found: list[runs.RunSummary]) -> None:
        """The runs on disk: the GPT runs with weights are offered for comparing."""
        gpt = [(f"{s.name} · step {s.step}", s.path) for s in found
               if panel(s.objective) == "chat" and runs.has_weights(s.path)]
        self.compare_panel.set_runs(gpt)
        self.setTabEnabled(COMPARE, bool(gpt))

    def set_run(self, path: Path | None, objective: str | None,
                checkpoint: str | int) -> None:
        """Follow the page's run: hard tokens for a pretrained run, attention for any."""
        pretrained = panel(objective) in ("chat", "fill-mask")
        has_weights = path is not None and runs.has_weights(path)
        self.hard_tokens_panel.set_run(path if pretrained and has_weights else None, checkpoint)
        self.attention_panel.set_run(path if has_weights else None, checkpoint)
        self.setTabEnabled(HARD_TOKENS, pretrained and has_weights)
        self.setTabEnabled(ATTENTION, has_weights)
        self.embeddings_panel.set_run(path if has_weights else None, checkpoint,
                                      texts=objective == "classify")
        self.setTabEnabled(EMBEDDINGS, has_weights)
        if objective is not None and not pretrained:
            self.setTabToolTip(HARD_TOKENS, f"A {title(objective)} run has no validation "
                                            "split of its own: pick a pretrained run")

    def shutdown(self) -> None:
        for p in (self.compare_panel, self.hard_tokens_panel, self.attention_panel,
                  self.embeddings_panel):
            p.shutdown()
