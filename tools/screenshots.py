"""Screenshots of each page in a realistic state, for the documentation.

Opens the window offscreen on a temporary home and drives it as a user would, with real
training throughout (tiny models, a few hundred steps; about three minutes on two CPU cores):

- data.png: the bundled sample corpus prepared on the Data page (a 2,000-piece vocabulary);
- train.png: a short GPT (clm) run of the tiny preset, with its curves and samples;
- playground.png: that run loaded in the Playground, continuing a typed prompt;
- probabilities.png: the same chat with each generated piece shaded by its probability, one
  piece clicked to show the alternatives the model weighed;
- compare.png: a short early GPT run (a sixth of the steps) and the full one side by side on
  one prompt and seed;
- hard_tokens.png: the full run's hard-token view of a validation passage and the hardest token
  types of the split;
- attention.png: the full run's attention maps for a sentence, one head enlarged;
- finetune.png: the Train page in fine-tune mode after "Does pretraining help?" and then a
  classification fine-tune of the GPT run on the bundled sentiment set: the comparison table,
  the validation metrics, the test results and the confusion matrix with one cell's texts;
- classify.png: the Playground's Classify panel on that fine-tuned run, a typed text labelled;
- qa.png: the Playground's QA panel on an extractive QA fine-tune (of a short BERT run, trained
  here too) on the bundled QA set, the answer highlighted in its context;
- runs.png: the Runs page listing every run made above.

    python tools/screenshots.py [--steps 300] [--out docs/screenshots] [--only instruments]

--only instruments prepares the data and trains the GPT runs, then takes only the four
pictures of the Playground's instruments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app does (gui/app.py)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QSettings, QSize  # noqa: E402
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSpinBox, QTreeWidget, QWidget  # noqa: E402

from lmstudio_app.gui.find import choose, labelled, named, only  # noqa: E402
from lmstudio_app.gui.pages.playground.shaded_text import ShadedText  # noqa: E402
from lmstudio_app.gui.pages.train.finetune_form import FinetuneForm  # noqa: E402
from lmstudio_app.gui.widgets.confusion import ConfusionView  # noqa: E402
from lmstudio_app.gui.widgets.curves import CurvesWidget  # noqa: E402

SIZE = QSize(1280, 820)
# The fine-tune page holds the comparison table, the metrics and the confusion matrix: it gets
# more height, as a user would give it.
FINETUNE_SIZE = QSize(1280, 960)

# Classification: a few epochs of the 480 training texts, mean pooling (what the sentiment
# bench found best); seconds on a CPU.
CLASSIFY = {"steps": 150, "eval_every": 25, "learning_rate": "1e-3", "pooling": "mean"}
CLASSIFY_TEXT = ("The room was small and a little noisy, but the staff were kind and the "
                 "breakfast was wonderful.")
# Extractive QA from a BERT run: the QA set is small (239 training questions), so a tiny model
# learns its training questions but not yet to generalise. The question shown is one of those,
# asked over its own context, so the picture shows the panel doing what the run learned.
QA = {"steps": 400, "eval_every": 50, "learning_rate": "1e-3"}
QA_QUESTION = "What are the Dashwood daughters called?"


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Run the event loop until `condition()` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(window: QWidget, path: Path) -> None:
    settle()
    window.grab().save(str(path), "PNG")
    print(f"wrote {path}", flush=True)


def signal_list(signal) -> list[Any]:
    """A list that collects what `signal` emits (its first argument, or all of them)."""
    got: list[Any] = []
    signal.connect(lambda *args: got.append(args[0] if len(args) == 1 else args))
    return got


def train_run(train, what: str, timeout_s: float = 900) -> Path:
    """Start the Train page's form and wait until the run completes (and, for a fine-tune,
    until its test results are shown); the run folder."""
    done = signal_list(train.session.sig_done)
    results = signal_list(train.sig_results_shown)
    if not train.start():
        raise SystemExit(f"cannot start {what}: {named(train, 'Errors', QLabel).text()}")
    wait_for(lambda: bool(done), timeout_s, what)
    run_dir, reason = done[0]
    if reason != "completed":
        raise SystemExit(f"{what} ended: {reason}: {named(train, 'Errors', QLabel).text()}")
    if train.config is not None and train.config.finetune is not None:
        wait_for(lambda: bool(results), 60, f"the test results of {what}")
    return Path(run_dir)


def set_finetune(train, task: str, base_run: Path, budget: dict[str, Any]) -> None:
    """Fill the fine-tune form: task, base run and budget (the bundled labeled file stays)."""
    train.set_mode("finetune")
    form = only(train, FinetuneForm)
    form.set_task(task)
    form.refresh_runs()
    i = form.base_box.findData(str(base_run))
    if i < 0:
        raise SystemExit(f"{base_run.name} is not offered as a base run for {task}")
    form.base_box.setCurrentIndex(i)
    if "pooling" in budget:
        form.pooling_box.setCurrentIndex(form.pooling_box.findData(budget["pooling"]))
    form.steps.setValue(budget["steps"])
    form.eval_every.setValue(budget["eval_every"])
    form.learning_rate.setText(budget["learning_rate"])


def set_pretrain(train, objective: str, steps: int) -> None:
    train.set_mode("pretrain")
    choose(train, "Objective", objective)
    choose(train, "Preset", "tiny")
    train.set_field("max_steps", steps)
    train.set_field("eval_interval", max(steps // 6, 1))
    train.set_field("log_interval", 1)


def use_in_playground(play, run_dir: Path) -> None:
    loaded = signal_list(play.sig_model_loaded)
    failed = signal_list(play.sig_load_failed)
    play.use_run(run_dir)
    wait_for(lambda: bool(loaded or failed), 120, f"{run_dir.name} to load")
    if failed:
        raise SystemExit(f"cannot load {run_dir.name}: {failed[0]}")


def ask_task(play, button) -> None:
    """Press a task panel's button and wait for the prediction it shows."""
    results = signal_list(play.sig_task_result)
    button.click()
    wait_for(lambda: bool(results) or bool(play.error_text()), 120, "the prediction")
    if not results:
        raise SystemExit(f"prediction failed: {play.error_text()}")


def qa_example(question: str) -> dict[str, str]:
    from lmstudio_app.core.data.labeled import sample_qa_path

    for line in sample_qa_path().read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("question") == question:
            return row
    raise SystemExit(f"{question!r} is not in the bundled QA set")


@contextlib.contextmanager
def screen_state() -> Iterator[Any]:
    """The application, and an AppState over a temporary home that is removed afterwards."""
    from lmstudio_app.gui.app import create_app

    app = create_app([])  # kept alive while the windows exist
    from lmstudio_app.gui.state import AppState

    home = Path(tempfile.mkdtemp(prefix="lmstudio_app-screens-"))
    try:
        yield AppState(QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat), home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        del app


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="pretraining steps of each run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--only", choices=("all", "instruments"), default="all")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()

    with screen_state() as state:
        from lmstudio_app.gui.main_window import MainWindow

        for folder in (state.home, state.data_root, state.runs_root):
            folder.mkdir(parents=True, exist_ok=True)
        window = MainWindow(state)
        window.resize(SIZE)
        window.show()
        shoot(window, state, args)
        window.close()
        settle(0.2)
    print(f"done in {time.monotonic() - began:.0f} s")
    return 0


def prepare_sample(window, state) -> None:
    """The sample corpus listed on first start, prepared with a small vocabulary."""
    window.show_page("Data")
    data = window.pages["Data"]
    ready = signal_list(state.sig_data_ready)
    labelled(data, "Vocabulary", QSpinBox).setValue(2000)
    data.start_prepare()
    wait_for(lambda: bool(ready), 600, "the sample corpus to be prepared")


def shoot_instruments_only(window, state, args) -> None:
    prepare_sample(window, state)
    window.show_page("Train")
    train = window.train_page
    choose(train, "Device", "cpu")
    set_pretrain(train, "clm", args.steps)
    gpt_run = train_run(train, "the GPT run")
    window.show_page("Playground")
    play = window.pages["Playground"]
    use_in_playground(play, gpt_run)
    shoot_instruments(window, args, gpt_run)


def shoot_instruments(window, args, gpt_run: Path) -> None:
    """The Playground's instruments on `gpt_run` (loaded there), and on an early run trained
    here for the comparison."""
    from lmstudio_app.gui.pages.playground.instrument_tabs import (
        ATTENTION,
        COMPARE,
        HARD_TOKENS,
    )

    play = window.pages["Playground"]
    tabs = play.instruments
    # Probabilities: a greedy-free reply, one piece in its middle clicked.
    tabs.setCurrentIndex(0)
    play.clear_chat()
    play.seed = 2
    replies = signal_list(play.sig_reply_finished)
    named(play, "Message", QPlainTextEdit).setPlainText("Elizabeth looked at him and said")
    play.send()
    wait_for(lambda: bool(replies), 120, "the reply")
    transcript = named(play, "Conversation", ShadedText)
    shown = transcript.tokens
    if shown:
        cursor = transcript.textCursor()
        cursor.setPosition(shown[min(len(shown) - 1, 6)].start)
        transcript.setTextCursor(cursor)
    save(window, args.out / "probabilities.png")

    # Compare: an early run (a sixth of the steps) against the full one.
    window.show_page("Train")
    train = window.train_page
    set_pretrain(train, "clm", max(args.steps // 6, 10))
    early_run = train_run(train, "the early GPT run")
    window.show_page("Playground")
    use_in_playground(play, gpt_run)
    tabs.setCurrentIndex(COMPARE)
    panel = tabs.compare_panel
    a, b = panel.sides
    a.run_combo.setCurrentIndex(a.run_combo.findData(str(early_run)))
    b.run_combo.setCurrentIndex(b.run_combo.findData(str(gpt_run)))
    finished = signal_list(panel.sig_finished)
    panel.seed_spin.setValue(3)
    panel.compare()
    wait_for(lambda: bool(finished), 120, "the two replies")
    if panel.error_label.text():
        raise SystemExit(f"comparing failed: {panel.error_label.text()}")
    save(window, args.out / "compare.png")

    # Hard tokens: the start of the validation split and the hardest token types.
    tabs.setCurrentIndex(HARD_TOKENS)
    hard = tabs.hard_tokens_panel
    scored = signal_list(hard.sig_scored)
    hard.score()
    wait_for(lambda: hard.job is None, 120, "the token losses")
    if not scored:
        raise SystemExit(f"scoring failed: {hard.mean_label.text()}")
    if hard.text_view.tokens:
        cursor = hard.text_view.textCursor()
        worst = max(range(len(hard.text_view.tokens)),
                    key=lambda i: -(hard.text_view.tokens[i].probability or 1.0))
        cursor.setPosition(hard.text_view.tokens[worst].start)
        hard.text_view.setTextCursor(cursor)
    save(window, args.out / "hard_tokens.png")

    # Attention: a sentence, the last layer's second head enlarged.
    tabs.setCurrentIndex(ATTENTION)
    attention = tabs.attention_panel
    computed = signal_list(attention.sig_computed)
    attention.text_edit.setText("Mr. Darcy looked at Elizabeth, and she smiled at him.")
    attention.compute()
    wait_for(lambda: attention.job is None, 120, "the attention maps")
    if not computed:
        raise SystemExit(f"attention failed: {attention.status_label.text()}")
    n_layer, n_head = attention.maps.weights.shape[:2]
    attention.pick(n_layer - 1, min(1, n_head - 1))
    save(window, args.out / "attention.png")
    tabs.setCurrentIndex(0)


def shoot(window, state, args) -> None:
    if args.only == "instruments":
        shoot_instruments_only(window, state, args)
        return
    # Data: the sample corpus listed on first start; prepare it with a small vocabulary.
    prepare_sample(window, state)
    data = window.pages["Data"]
    previewed = signal_list(data.sig_preview_shown)
    sources = named(data, "Sources", QTreeWidget)
    sources.setCurrentItem(sources.topLevelItem(0))
    # The first source is selected when the list fills, so its preview may be there already.
    preview = named(data, "Preview", QPlainTextEdit)
    wait_for(lambda: bool(previewed) or bool(preview.toPlainText()), 60,
             "the preview of the corpus")
    settle(1.0)
    save(window, args.out / "data.png")

    # Train: the tiny preset on the CPU, a few hundred steps with evaluations and samples.
    window.show_page("Train")
    train = window.train_page
    choose(train, "Device", "cpu")
    set_pretrain(train, "clm", args.steps)
    gpt_run = train_run(train, "the GPT run")
    only(train, CurvesWidget).outputs.show_readout(args.steps * 0.6)
    save(window, args.out / "train.png")

    # Playground: the new run loaded, one continuation generated.
    window.show_page("Playground")
    play = window.pages["Playground"]
    use_in_playground(play, gpt_run)
    replies = signal_list(play.sig_reply_finished)
    named(play, "Message", QPlainTextEdit).setPlainText("It is a truth universally acknowledged")
    play.send()
    wait_for(lambda: bool(replies), 120, "the reply")
    save(window, args.out / "playground.png")
    shoot_instruments(window, args, gpt_run)

    # Fine-tune: compare pretrained with scratch, then fine-tune the GPT run on the sentiment
    # set (the comparison's table stays above the new run's results).
    window.show_page("Train")
    set_finetune(train, "classify", gpt_run, CLASSIFY)
    compared = signal_list(train.sig_compare_done)
    if not train.compare_init():
        raise SystemExit(f"cannot compare: {named(train, 'Errors', QLabel).text()}")
    wait_for(lambda: bool(compared), 900, "the pretrained-versus-scratch comparison")
    if train.comparison is None:
        raise SystemExit(f"the comparison failed: {named(train, 'Errors', QLabel).text()}")
    classify_run = train_run(train, "the classification fine-tune")
    show_mistakes(train)
    window.resize(FINETUNE_SIZE)
    save(window, args.out / "finetune.png")
    window.resize(SIZE)

    # Classify: the fine-tuned run labels a typed text.
    window.show_page("Playground")
    use_in_playground(play, classify_run)
    play.classify_panel.text_edit.setPlainText(CLASSIFY_TEXT)
    ask_task(play, play.classify_panel.button)
    save(window, args.out / "classify.png")

    # QA: a short BERT run, fine-tuned for extractive QA, answers a question in its context.
    window.show_page("Train")
    set_pretrain(train, "mlm", args.steps)
    bert_run = train_run(train, "the BERT run")
    set_finetune(train, "qa-extractive", bert_run, QA)
    qa_run = train_run(train, "the QA fine-tune")
    window.show_page("Playground")
    use_in_playground(play, qa_run)
    example = qa_example(QA_QUESTION)
    play.qa_panel.context_edit.setPlainText(example["context"])
    play.qa_panel.question_edit.setText(example["question"])
    ask_task(play, play.qa_panel.button)
    save(window, args.out / "qa.png")

    # Runs: the table with every run made above, the classification fine-tune selected.
    window.show_page("Runs")
    runs_page = window.pages["Runs"]
    runs_page.refresh()
    wait_for(lambda: runs_page.select_run(classify_run), 30, "the runs list")
    save(window, args.out / "runs.png")


def show_mistakes(train) -> None:
    """Click the confusion matrix's most frequent mistake, listing its test texts."""
    view = named(train, "Confusion matrix", ConfusionView)
    cells = [(count, i, j) for i, row in enumerate(view.matrix)
             for j, count in enumerate(row) if i != j]
    if cells:
        _count, i, j = max(cells)
        view.table.setCurrentCell(i, j)
        view.choose_cell(i, j)


if __name__ == "__main__":
    sys.exit(main())
