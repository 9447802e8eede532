"""How the window shows each objective: the one place in the window that spells their names.

Titles, architectures and the kind of labeled data a task reads come from the engine's table
(`core.config.OBJECTIVES`); this table adds what only the window decides: the Playground panel
that tries a run of the objective, and what the fine-tuning form offers for it. Adding a task
is one row here and, when no panel fits, one panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import OBJECTIVES, TASKS


@dataclass(frozen=True)
class Face:
    """What the window does with runs of one objective."""

    panel: str  # the Playground panel: "chat", "fill-mask", "classify" or "qa"
    classes: bool = False  # predicts one of a set of labels: pooling, class weights, confusion
    extractive: bool = False  # answers with a span of the context (else writes its answer)


FACES: dict[str, Face] = {
    "clm": Face("chat"),
    "mlm": Face("fill-mask"),
    "classify": Face("classify", classes=True),
    "qa-extractive": Face("qa", extractive=True),
    "qa-generative": Face("qa"),
    "sft": Face("chat"),  # a chat-tuned run: the chat panel in conversation mode
    "dpo": Face("chat"),  # a preference-tuned language model: the Playground's chat tries it
}
PANELS = ("chat", "fill-mask", "classify", "qa")


def title(objective: str | None) -> str:
    """The objective's title ("Causal LM (GPT)"); an unknown name as it is."""
    spec = OBJECTIVES.get(objective or "")
    return spec.title if spec else str(objective)


def face(objective: str | None) -> Face | None:
    return FACES.get(objective or "")


def panel(objective: str | None) -> str | None:
    """The Playground panel for runs of `objective`; None for an unknown objective."""
    f = face(objective)
    return f.panel if f else None


def objectives_with(panel_name: str) -> list[str]:
    """The objectives whose runs the panel `panel_name` tries, in the engine's order."""
    return [name for name in OBJECTIVES if panel(name) == panel_name]


def has_classes(objective: str | None) -> bool:
    f = face(objective)
    return bool(f and f.classes)


def tasks_of_family(family: str) -> list[str]:
    """The fine-tuning tasks that read labeled data of `family` ("classify" or "qa")."""
    return [t for t in TASKS if OBJECTIVES[t].family == family]
