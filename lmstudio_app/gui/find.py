"""Finding a window's controls as a person does: a button by its text, a field by the label
beside it, anything else by its accessible name (what a screen reader says), or the one view of
a kind. Tests, the screenshot tool and the window benchmarks reach a page through these or
through the page's own small API, never through the widgets its panels hold.

Each raises AssertionError unless exactly one widget matches (hidden ones count: a control
of the other mode is still found, disabled or not).
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QWidget,
)

W = TypeVar("W", bound=QWidget)


def _one(found: list[W], what: str, root: QWidget) -> W:
    if len(found) != 1:
        raise AssertionError(f"{len(found)} {what} in {type(root).__name__}, not one")
    return found[0]


def button(root: QWidget, name: str) -> QAbstractButton:
    """The one button (push, check, tool) a screen reader calls `name`: its accessible name
    where it has one ("Stop the reply"), else its text (the & of a mnemonic aside)."""
    found = [b for b in root.findChildren(QAbstractButton)
             if (b.accessibleName() or b.text().replace("&", "")) == name]
    return _one(found, f"buttons {name!r}", root)


def named(root: QWidget, name: str, kind: type[W]) -> W:
    """The one widget of `kind` whose accessible name is `name`."""
    found = [w for w in root.findChildren(kind) if w.accessibleName() == name]
    return _one(found, f"{kind.__name__}s named {name!r}", root)


def labelled(root: QWidget, label: str, kind: type[W]) -> W:
    """The one field of `kind` that the label `label` stands beside (a form's row)."""
    found = [w for lab in root.findChildren(QLabel) if lab.text().replace("&", "") == label
             for w in (lab.buddy(),) if isinstance(w, kind)]
    return _one(found, f"{kind.__name__}s labelled {label!r}", root)


def group(root: QWidget, title: str) -> QGroupBox:
    """The one group box titled `title`."""
    found = [g for g in root.findChildren(QGroupBox) if g.title().replace("&", "") == title]
    return _one(found, f"groups titled {title!r}", root)


def setting(root: QWidget, key: str) -> QLineEdit:
    """The Train page's box for the pretraining setting `key` (a ModelForm field: "n_head"),
    found by the label a person reads beside it ("Attention heads") in "Model and training"."""
    from .pages.train.model_form import FIELDS

    label = next(f.label for f in FIELDS if f.key == key)
    return labelled(group(root, "Model and training"), label, QLineEdit)


def only(root: QWidget, kind: type[W]) -> W:
    """The one child widget of `kind` (the page's curves, its fine-tuning form)."""
    return _one(root.findChildren(kind), f"{kind.__name__}s", root)


def choose(root: QWidget, label: str, data: object) -> None:
    """Choose the item whose data is `data` in the drop-down list labelled `label`."""
    box = labelled(root, label, QComboBox)
    i = box.findData(data)
    if i < 0:
        raise AssertionError(f"no {data!r} in {label!r}")
    box.setCurrentIndex(i)
