"""The window's objective table agrees with the engine's: one row per objective, a task's panel
is its kind of labeled data, and only tasks with a classification head show classes."""

from __future__ import annotations

from lmstudio_app.core.config import OBJECTIVES, TASKS
from lmstudio_app.gui.objectives import FACES, PANELS, objectives_with, tasks_of_family, title


def test_every_objective_has_one_row_and_a_known_panel():
    assert set(FACES) == set(OBJECTIVES)
    assert {f.panel for f in FACES.values()} == set(PANELS)
    for name in TASKS:
        family = OBJECTIVES[name].family  # a preference-tuned model chats
        assert FACES[name].panel == ("chat" if family == "preference" else family)
        assert FACES[name].classes == (OBJECTIVES[name].head == "sequence-classification")
        assert FACES[name].extractive == (OBJECTIVES[name].head == "span")
        assert name in tasks_of_family(OBJECTIVES[name].family)


def test_titles_come_from_the_engine():
    assert [title(n) for n in objectives_with("chat")] == [
        s.title for s in OBJECTIVES.values()
        if "gpt" in s.archs and (not s.is_task or s.family in ("chat", "preference"))]
    assert title("no-such-objective") == "no-such-objective"
