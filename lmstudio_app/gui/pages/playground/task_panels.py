"""Playground panels for fine-tuned runs: a text's label probabilities, and a question's answer
highlighted in its context.

The panels only show things and ask: the page runs the predictions in its BackgroundJobs (one
job holds the model at a time) and hands the results back here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...widgets.layouts import hbox, vbox
from .enter_sends import EnterSends
from .shaded_text import ProbabilityLegend, ShadedText

DEFAULT_CLASSIFY_TEXT = "What a lovely day: I enjoyed every minute of it."
DEFAULT_CONTEXT = "The Bennets live at Longbourn, near the village of Meryton in Hertfordshire."
DEFAULT_QUESTION = "Where do the Bennets live?"
HIGHLIGHT = QColor("#f7dc6f")


def utf16_offset(text: str, index: int) -> int:
    """Qt counts UTF-16 code units; Python counts code points (they differ past the BMP)."""
    return len(text[:index].encode("utf-16-le")) // 2


def add_bar_row(grid: QGridLayout, row: int, name: QLabel, p: float, height: int) -> QProgressBar:
    """One row of a probability chart: the name, a bar of `p` in [0, 1], the percentage."""
    bar = QProgressBar()
    bar.setRange(0, 1000)
    bar.setValue(round(1000 * p))
    bar.setTextVisible(False)
    bar.setMaximumHeight(height)
    grid.addWidget(name, row, 0)
    grid.addWidget(bar, row, 1)
    grid.addWidget(QLabel(f"{p:.1%}"), row, 2)
    return bar


def clear_grid(grid: QGridLayout) -> None:
    while grid.count():
        item = grid.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()


class ProbabilityBars(QWidget):
    """One labelled bar per class, likeliest first, with its percentage."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setColumnStretch(1, 1)
        self.values: dict[str, float] = {}
        self.bars: dict[str, QProgressBar] = {}

    def set_probabilities(self, probs: dict[str, float]) -> None:
        clear_grid(self.grid)
        self.values = dict(probs)
        self.bars = {}
        best = max(probs, key=probs.__getitem__) if probs else None
        for row, (label, p) in enumerate(sorted(probs.items(), key=lambda kv: -kv[1])):
            name = QLabel(f"<b>{label}</b>" if label == best else label)
            self.bars[label] = add_bar_row(self.grid, row, name, p, 16)


class ClassifyPanel(QWidget):
    """A text box, a Classify button and one probability bar per label."""

    sig_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text_edit = QPlainTextEdit(DEFAULT_CLASSIFY_TEXT)
        self.text_edit.setMaximumHeight(100)
        self.text_edit.setToolTip("Enter classifies; Shift+Enter starts a new line")
        self.button = QPushButton("Classify")
        self.button.setToolTip("Classify (Enter)")
        self.button.clicked.connect(self._request)
        EnterSends(self.text_edit, self._request)
        self.result_label = QLabel("Write a text and press Enter (or Classify).")
        self.bars = ProbabilityBars()
        box = QGroupBox("Probability of each label")
        QVBoxLayout(box).addWidget(self.bars)
        note = QLabel("This run was fine-tuned to label texts; it gives every label a "
                      "probability (they add up to 100%).")
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.button)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addLayout(row)
        v.addWidget(self.result_label)
        v.addWidget(box)
        v.addStretch(1)

    def _request(self) -> None:
        if self.button.isEnabled():
            # The button is disabled while the model works: the focus stays in the text box
            # instead of moving on to whatever comes next.
            self.text_edit.setFocus()
            self.sig_requested.emit(self.text_edit.toPlainText())

    def show_result(self, result: dict[str, Any]) -> None:
        probs = result["probabilities"]
        self.result_label.setText(f"Label: <b>{result['label']}</b> "
                                  f"({probs[result['label']]:.1%})")
        self.bars.set_probabilities(probs)


class QAPanel(QWidget):
    """Context and question in; the answer out, with its score, highlighted in the context."""

    sig_requested = Signal(str, str)  # question, context

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.extractive = True
        self.context_edit = QTextEdit()
        self.context_edit.setAcceptRichText(False)
        self.context_edit.setPlainText(DEFAULT_CONTEXT)
        self.question_edit = QLineEdit(DEFAULT_QUESTION)
        self.question_edit.returnPressed.connect(self._request)
        self.button = QPushButton("Answer")
        self.button.clicked.connect(self._request)
        self.context_edit.textChanged.connect(self._clear_highlight)
        self.answer_label = QLabel("Write a context and a question, then press Answer.")
        self.answer_label.setWordWrap(True)
        self.answer_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.answer_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.answer_label.setFont(font)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.span: tuple[int, int] | None = None  # the highlighted characters (Python indices)
        vbox(self.note, hbox("Question", (self.question_edit, 1), self.button),
             self.answer_label, "Context (the answer is highlighted in it)",
             (self.context_edit, 1), owner=self)
        self.set_extractive(True)

    def set_extractive(self, extractive: bool) -> None:
        self.extractive = extractive
        self.note.setText(
            "This run picks the answer out of the context: the span it chose is highlighted."
            if extractive else
            "This run writes its answer (the context is optional); where the answer appears "
            "in the context, it is highlighted.")

    def _request(self) -> None:
        if self.button.isEnabled():
            self.sig_requested.emit(self.question_edit.text(), self.context_edit.toPlainText())

    def _clear_highlight(self) -> None:
        if self.span is not None:
            self.span = None
            self.context_edit.setExtraSelections([])

    def show_result(self, result: dict[str, Any], context: str) -> None:
        answer = result.get("answer", "")
        score = float(result.get("score", 0.0))
        span: tuple[int, int] | None
        if "start" in result:
            span = (int(result["start"]), int(result["end"]))
        else:
            at = context.find(answer) if answer.strip() else -1
            span = (at, at + len(answer)) if at >= 0 else None
        shown = answer if answer.strip() else "(no answer)"
        where = "" if span is None or span[0] == span[1] else \
            f" — characters {span[0]}–{span[1]} of the context"
        self.answer_label.setText(f"Answer: {shown}   (score {score:.2f}){where}")
        self.highlight(span if span and span[0] < span[1] else None, context)

    def highlight(self, span: tuple[int, int] | None, context: str) -> None:
        self.span = span
        if span is None or context != self.context_edit.toPlainText():
            self.context_edit.setExtraSelections([])
            return
        sel = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.context_edit.document())
        cursor.setPosition(utf16_offset(context, span[0]))
        cursor.setPosition(utf16_offset(context, span[1]), QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        fmt.setBackground(HIGHLIGHT)
        sel.cursor = cursor
        sel.format = fmt
        self.context_edit.setExtraSelections([sel])

    def highlighted_text(self) -> str:
        sels = self.context_edit.extraSelections()
        return sels[0].cursor.selectedText() if sels else ""


DEFAULT_SHOTS = (("What a wonderful evening with friends.", "positive"),
                 ("The train was late again and nobody said why.", "negative"),
                 ("The meeting is on Tuesday at ten.", "neutral"))


def few_shot_prompt(examples: list[tuple[str, str]], query: str, input_prefix: str,
                    output_prefix: str) -> str:
    """Labeled examples, then the query with its label left for the model to write."""
    blocks = [f"{input_prefix}{x}\n{output_prefix}{y}" for x, y in examples
              if x.strip() and y.strip()]
    blocks.append(f"{input_prefix}{query}\n{output_prefix.rstrip()}")
    return "\n\n".join(blocks)


def first_line(text: str) -> str:
    """The model's answer: what it wrote up to its first line break."""
    return text.strip().split("\n", 1)[0].strip() if text.strip() else ""


class FewShotPanel(QWidget):
    """A few labeled examples and a query, assembled into an editable prompt for a GPT run."""

    sig_requested = Signal(str, int)  # prompt, max new tokens

    def __init__(self, parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QSpinBox, QTableWidget, QTableWidgetItem

        super().__init__(parent)
        self.examples = QTableWidget(len(DEFAULT_SHOTS) + 2, 2)
        self.examples.setHorizontalHeaderLabels(["Example input", "Its answer"])
        self.examples.horizontalHeader().setStretchLastSection(True)
        self.examples.setColumnWidth(0, 420)
        for row, (x, y) in enumerate(DEFAULT_SHOTS):
            self.examples.setItem(row, 0, QTableWidgetItem(x))
            self.examples.setItem(row, 1, QTableWidgetItem(y))
        self.examples.setMaximumHeight(170)
        self.input_prefix = QLineEdit("Text: ")
        self.output_prefix = QLineEdit("Sentiment: ")
        self.query_edit = QLineEdit("I could not put this book down.")
        self.build_button = QPushButton("Build prompt")
        self.build_button.clicked.connect(self.build_prompt)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("The prompt (editable): build it, edit it if you "
                                            "like, then Generate.")
        self.prompt_edit.setToolTip("The prompt sent to the model; edit it as you like")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 256)
        self.max_tokens.setValue(8)
        self.button = QPushButton("Generate")
        self.button.clicked.connect(self._request)
        self.answer_label = QLabel("The model's answer (its first line) appears here.")
        self.answer_label.setTextFormat(Qt.TextFormat.PlainText)
        self.answer_label.setWordWrap(True)
        # The whole continuation, each piece shaded by its probability (hover: alternatives).
        self.raw_view = ShadedText()
        self.raw_view.setMinimumHeight(28)
        self.raw_view.setMaximumHeight(90)
        self.raw_view.setPlaceholderText("The whole continuation appears here, each piece "
                                         "shaded by its probability.")
        self.legend = ProbabilityLegend("probability")
        note = QLabel("Few-shot prompting: a pretrained model continues a pattern. Give a few "
                      "inputs with their answers, then a new input; it writes the answer.")
        note.setWordWrap(True)
        prefixes = QHBoxLayout()
        prefixes.addWidget(QLabel("Input prefix"))
        prefixes.addWidget(self.input_prefix)
        prefixes.addWidget(QLabel("Answer prefix"))
        prefixes.addWidget(self.output_prefix)
        query = QHBoxLayout()
        query.addWidget(QLabel("New input"))
        query.addWidget(self.query_edit, 1)
        query.addWidget(self.build_button)
        gen = QHBoxLayout()
        gen.addWidget(QLabel("Max new tokens"))
        gen.addWidget(self.max_tokens)
        gen.addWidget(self.legend, 1)
        gen.addWidget(self.button)
        v = QVBoxLayout(self)
        v.addWidget(note)
        v.addWidget(self.examples)
        v.addLayout(prefixes)
        v.addLayout(query)
        v.addWidget(self.prompt_edit, 1)
        v.addLayout(gen)
        v.addWidget(self.answer_label)
        v.addWidget(self.raw_view)

    def shots(self) -> list[tuple[str, str]]:
        out = []
        for row in range(self.examples.rowCount()):
            cells = [self.examples.item(row, c) for c in (0, 1)]
            x, y = (c.text() if c is not None else "" for c in cells)
            if x.strip() and y.strip():
                out.append((x, y))
        return out

    def build_prompt(self) -> str:
        prompt = few_shot_prompt(self.shots(), self.query_edit.text(),
                                 self.input_prefix.text(), self.output_prefix.text())
        self.prompt_edit.setPlainText(prompt)
        return prompt

    def _request(self) -> None:
        if not self.button.isEnabled():
            return
        if not self.prompt_edit.toPlainText().strip():
            self.build_prompt()
        self.sig_requested.emit(self.prompt_edit.toPlainText(), self.max_tokens.value())

    def show_completion(self, choices: list[Any]) -> None:
        """The generated tokens (core TokenChoices): the answer line, and every piece shaded."""
        answer = first_line("".join(c.text for c in choices))
        self.answer_label.setText(f"Answer: {answer or '(only blank lines: no answer)'}")
        self.raw_view.clear()
        for c in choices:
            self.raw_view.add_choice(c)
