"""F1: a short help page. What each page does, what each curve means, the keys, and where the
app keeps its files."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

HELP_HTML = """
<h2>lmstudio_app in five minutes</h2>
<p>Train a small language model on your own text, watch it learn, then talk to it.
The first time: press <b>Prepare</b> on the Data page (the bundled corpus, two Jane Austen
novels, is already listed), then <b>Start</b> on the Train page, then try the model in the
Playground as soon as its first checkpoint is saved.</p>

<h3>The pages</h3>
<ul>
<li><b>Data</b>: the text to learn from (add files or folders: .txt .md .jsonl .csv .tsv,
optionally .gz). <b>Prepare</b> learns a tokenizer (the pieces text is cut into) and writes
the text as pieces to a token store. <b>Labeled data…</b> maps a labeled file's columns for
fine-tuning.</li>
<li><b>Train</b>: <i>Pretrain</i> a model on prepared data (a GPT learns to predict the next
piece; a BERT learns to fill in hidden pieces), or <i>Fine-tune</i> a pretrained run on labeled
examples (label a text, answer a question). The form checks every value as you type; Start,
Pause, Resume and Stop control the run, which is saved at each evaluation and when it stops.
<b>Does pretraining help?</b> fine-tunes twice, from your run and from random weights, and
compares the test scores.</li>
<li><b>Playground</b>: use a run. A GPT run continues your text (Chat, Few-shot), a BERT run
fills a [MASK], a fine-tuned run labels a text or answers a question.</li>
<li><b>Runs</b>: every run folder: open its curves, resume it, overlay it on the current
curves (Compare), use it in the Playground, export it, reveal its folder, delete it.</li>
</ul>

<h3>The curves</h3>
<ul>
<li><b>loss</b>: how surprised the model is by the next piece (cross-entropy, in nats per
piece; lower is better). <i>train (raw)</i> is each logged step's loss; <i>train
(smoothed)</i> its moving average (the Smoothing slider); <i>validation</i> the loss on text
held out from training, at each evaluation. Validation rising while training falls means the
model has started to memorise its text (overfitting).</li>
<li><b>lr</b>: the learning rate, how big each step is: a linear warm-up, then a cosine decay
to a tenth of its peak.</li>
<li><b>tokens/s</b>: training speed, in pieces a second.</li>
<li><b>Samples at each evaluation</b>: a GPT run writes a short text, a BERT run fills a
masked word: you can read it getting better.</li>
<li><b>Validation metrics</b> (fine-tuning): accuracy and macro F1 (labels), exact match and
F1 (answers), between 0 and 1; higher is better. The confusion matrix shows which labels are
mistaken for which; click a cell for its texts.</li>
</ul>
<p>Hover a curve for the values at a step. Export PNG and Export CSV save what is shown.</p>

<h3>Keys</h3>
<table cellspacing="4">
<tr><td>Ctrl+1 … Ctrl+5</td><td>Data, Train, Playground, Runs, Sweep</td></tr>
<tr><td>Ctrl+Return</td><td>Start training</td></tr>
<tr><td>Ctrl+P, Ctrl+R, Ctrl+.</td><td>Pause, Resume, Stop (a stopped run is saved)</td></tr>
<tr><td>Enter, Shift+Enter</td><td>in the chat and Classify boxes: send, a new line</td></tr>
<tr><td>F1</td><td>this page</td></tr>
</table>
"""


def help_html(data: Path, runs: Path, log: Path) -> str:
    """The help page, with the folders where this installation keeps its files."""
    where = (f"<h3>Your files</h3><p>Prepared data: {escape(str(data))}<br>Runs: "
             f"{escape(str(runs))}<br>Log: {escape(str(log))}</p>")
    return HELP_HTML + where


class HelpDialog(QDialog):
    """The help page in a window of its own (not modal: it can stay open beside the app)."""

    def __init__(self, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Help")  # Qt adds " — lmstudio_app"
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 720)
