"""The Train page in fine-tune mode, on tiny real runs: training a classifier and plotting its
metrics and confusion, does pretraining help (both sides, and a stop), a finished run opened
from disk, and the form's settings on the next start."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QLineEdit, QProgressBar, QTableWidget

from lmstudio_app.core.data import labeled
from lmstudio_app.core.training.compare import NOT_STARTED, verdict_of
from lmstudio_app.core.training.compare import verdict as engine_verdict
from lmstudio_app.gui.find import button, choose, labelled, named, only
from lmstudio_app.gui.pages.train.finetune_form import FinetuneForm
from lmstudio_app.gui.pages.train.metrics_plot import MetricsPlot
from lmstudio_app.gui.pages.train.page import KEY_FINETUNE, TrainPage
from lmstudio_app.gui.state import AppState
from lmstudio_app.gui.widgets.confusion import ConfusionView
from lmstudio_app.gui.widgets.curves import CurvesWidget, arrays_from_events


def test_finetune_mode_trains_a_classifier_and_plots_its_metrics(qtbot, tmp_path, train_page_on,
                                                                 labeled_slice, click_a_mistake,
                                                                 engine_runs):
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    page, state = train_page_on(root)
    page.set_mode("finetune")
    form = only(page, FinetuneForm)
    assert form.isVisibleTo(page) and not named(page, "Data", QGroupBox).isVisibleTo(page)
    # Generative QA starts only from GPT runs; classify and extractive QA from either.
    form.set_task("qa-generative")
    assert [form.base_box.itemText(i).split(" · ")[1] for i in range(form.base_box.count())] \
        == ["clm"]
    form.set_task("qa-extractive")
    assert form.base_box.count() == 2
    form.set_task("classify")
    assert form.base_box.count() == 2
    assert form.file_edit.text().endswith((".csv", ".jsonl"))  # the bundled sample
    form.base_box.setCurrentIndex(
        next(i for i in range(form.base_box.count()) if "gpt" in form.base_box.itemText(i)))

    # A missing file is a readable message and Start stays off.
    form.file_edit.setText(str(tmp_path / "nope.csv"))
    assert "not found" in named(page, "Errors", QLabel).text()
    assert not button(page, "Start").isEnabled()
    assert named(page, "Errors", QLabel).text().startswith("Labeled file: ")
    assert "border" in form.file_edit.styleSheet() and form.steps.styleSheet() == ""
    form.set_file(labeled_slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 60,
                                header=True))
    form.steps.setValue(20)
    form.eval_every.setValue(10)
    form.batch_size.setValue(8)
    form.learning_rate.setText("2e-3")
    choose(page, "Device", "cpu")
    assert button(page, "Start").isEnabled(), named(page, "Errors", QLabel).text()
    with qtbot.waitSignal(page.sig_results_shown, timeout=60000) as shown:
        assert page.start()
    report = shown.args[0]
    assert report["task"] == "classify" and "confusion" in report
    assert page.run_reason() == "completed"
    metrics = named(page, "Validation metrics", MetricsPlot)
    assert len(metrics.points["accuracy"][0]) == 2  # evaluations at steps 10 and 20
    assert set(named(page, "Validation metrics", MetricsPlot).points) >= {"accuracy", "macro_f1"}
    assert "accuracy" in named(page, "Test results", QLabel).text()
    # Beside the score, what it means: the baselines of the same split.
    assert "Baselines on the same split: majority class: accuracy 0." in \
        named(page, "Test results", QLabel).text()
    assert "TF-IDF + logistic regression: accuracy" in named(page, "Test results", QLabel).text()

    # The confusion heatmap: counts as in results.json, darker for larger counts.
    view = named(page, "Confusion matrix", ConfusionView)
    assert view.isVisibleTo(page) and view.labels == report["labels"]
    n = len(view.labels)
    counts = [[int(view.table.item(i, j).text()) for j in range(n)] for i in range(n)]
    assert counts == report["confusion"] and sum(map(sum, counts)) == report["n"]
    flat = [(counts[i][j], view.table.item(i, j).background().color().lightness())
            for i in range(n) for j in range(n)]
    assert min(flat)[1] >= max(flat)[1]
    # Clicking a cell lists the test texts of that (true, predicted) pair.
    i, j, (true, pred, texts) = click_a_mistake(view)
    assert (true, pred) == (view.labels[i], view.labels[j]) and len(texts) == counts[i][j]
    assert all(m["label"] == true and m["predicted"] == pred for m in report["mistakes"]
               if m["text"] in texts)
    assert view.texts.toPlainText().count("•") == len(texts)
    page.shutdown()


def _comparing_page(tmp_path, train_page_on, labeled_slice, engine_runs, steps: int,
                    eval_every: int, seeds: int) -> tuple:
    """A Train page in fine-tune mode over copies of the engine's runs, set to compare on 40
    rows of the bundled sentiment set on the CPU (seeds 0: the engine's rule)."""
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    page, state = train_page_on(root)
    page.set_mode("finetune")
    form = only(page, FinetuneForm)
    form.set_file(labeled_slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 40,
                                header=True), task="classify")
    form.steps.setValue(steps)
    form.eval_every.setValue(eval_every)
    form.batch_size.setValue(8)
    form.seeds.setValue(seeds)
    choose(page, "Device", "cpu")
    return page, state


def test_does_pretraining_help_compares_two_runs_side_by_side(qtbot, tmp_path, train_page_on,
                                                              labeled_slice, engine_runs):
    page, _ = _comparing_page(tmp_path, train_page_on, labeled_slice, engine_runs, 10, 10, 1)
    assert button(page, "Does pretraining help?").isEnabled(), named(page, "Errors", QLabel).text()
    # Curves of an unrelated run on the page: the comparison starts without them.
    only(page, CurvesWidget).append_steps(np.arange(1, 500.0), np.full(499, 9.0))
    only(page, CurvesWidget).add_overlay("an-unrelated-run", arrays_from_events([]))
    named(page, "Validation metrics", MetricsPlot).add(400, {"accuracy": 0.1})
    progress = []
    page.sig_compare_progress.connect(progress.append)
    with qtbot.waitSignal(page.sig_comparison_shown, timeout=60000) as shown:
        button(page, "Does pretraining help?").click()
        assert page.busy() and not button(page, "Start").isEnabled()
    [(pre, scr)] = shown.args[0]
    assert (pre.init, scr.init) == ("pretrained", "scratch")
    assert pre.reason == scr.reason == "completed"
    # Each side's progress reached its last step, the pretrained side first.
    sides = [p.init for p in progress]
    assert sides == sorted(sides, key=("pretrained", "scratch").index)
    assert {(p.init, p.step, p.max_steps) for p in progress} >= {("pretrained", 10, 10),
                                                                 ("scratch", 10, 10)}
    assert named(page, "Progress", QLabel).text() == "Comparison completed."
    table = named(page, "Comparison", QTableWidget)
    rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
    assert "accuracy" in rows and table.columnCount() == 2
    row = rows.index("accuracy")
    assert table.item(row, 0).text() == f"{pre.report['accuracy']:.3f}"
    assert table.item(row, 1).text() == f"{scr.report['accuracy']:.3f}"
    verdict = named(page, "Does pretraining help?", QLabel).text()
    assert "from scratch" in verdict
    assert named(page, "Does pretraining help?", QLabel).isVisibleTo(page)
    # The engine's verdict, word for word as the command line prints it, said once.
    said = engine_verdict(pre, scr).text
    assert verdict == f"Does pretraining help? {said}"
    assert said not in named(page, "Test results", QLabel).text()
    # The comparison's own curves: the scratch side live, the pretrained side as an overlay,
    # both sides' validation scores; nothing of the unrelated run.
    only(page, CurvesWidget).flush()
    assert only(page, CurvesWidget).overlay_names() == ["pretrained (fine-tuned)"]
    assert list(only(page, CurvesWidget).loss.x) == list(range(1, 11))
    assert set(named(page, "Validation metrics", MetricsPlot).points) >= {
        "accuracy (pretrained)", "accuracy (scratch)"}
    assert "accuracy" not in named(page, "Validation metrics", MetricsPlot).points
    assert named(page, "Validation metrics", MetricsPlot).points["accuracy (scratch)"][0] == [10.0]
    qtbot.waitUntil(lambda: button(page, "Start").isEnabled(), timeout=10000)
    # A plain fine-tune afterwards: its test line replaces the results, the verdict stays with
    # its table.
    with qtbot.waitSignal(page.sig_results_shown, timeout=60000):
        button(page, "Start").click()
    assert "accuracy" in named(page, "Test results", QLabel).text()
    assert named(page, "Does pretraining help?", QLabel).text() == verdict
    qtbot.waitUntil(lambda: button(page, "Start").isEnabled(), timeout=10000)
    page.shutdown()


def test_opening_a_finished_classify_run_shows_its_metrics_and_confusion(qtbot, tmp_path,
                                                                         finetune_runs,
                                                                         train_page_on):
    page, _ = train_page_on(finetune_runs.runs_root)
    with qtbot.waitSignal(page.sig_history_loaded, timeout=10000):
        page.open_run(finetune_runs.classify)
    confusion = named(page, "Confusion matrix", ConfusionView)
    qtbot.waitUntil(lambda: confusion.isVisibleTo(page), timeout=10000)
    report = json.loads((finetune_runs.classify / "results.json").read_text())
    assert page.mode() == "finetune" and only(page, FinetuneForm).task() == "classify"
    assert named(page, "Confusion matrix", ConfusionView).matrix == report["confusion"]
    metrics = named(page, "Validation metrics", MetricsPlot)
    assert len(metrics.points["accuracy"][0]) == 2  # evaluations at 10 and 20
    page.shutdown()



def test_fine_tune_form_settings_come_back_on_the_next_start(qtbot, tmp_path, train_page_on,
                                                             engine_runs):
    engine = engine_runs
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine.runs_root, root)
    page, state = train_page_on(root)
    page.set_mode("finetune")
    form = only(page, FinetuneForm)
    mine = tmp_path / "mine.csv"
    mine.write_text("sentence,mood\nA bright morning.,good\n", encoding="utf-8")
    form.set_file(mine, {"text": "sentence", "label": "mood"}, task="classify",
                  encoding="latin-1")
    bert = root / engine.bert.name
    form.base_box.setCurrentIndex(form.base_box.findData(str(bert)))
    form.pooling_box.setCurrentIndex(form.pooling_box.findData("mean"))
    form.freeze_embeddings.setChecked(True)
    form.freeze_layers.setValue(1)
    form.body_lr_scale.setValue(0.3)
    form.class_weights.setChecked(True)
    form.steps.setValue(123)
    form.eval_every.setValue(7)
    form.learning_rate.setText("3e-4")
    form.batch_size.setValue(5)
    # Each task keeps its own file and encoding: QA shows its bundled sample, read as utf-8.
    form.set_task("qa-extractive")
    assert form.file_edit.text() != str(mine) and form.encoding() == "utf-8"
    form.set_task("classify")
    assert form.file_edit.text() == str(mine) and form.encoding() == "latin-1"
    saved = form.settings()
    assert json.loads(state.value(KEY_FINETUNE)) == saved  # persisted as it changed
    page.shutdown()
    state.settings.sync()

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    again = TrainPage(AppState(settings=settings, home=root.parent))
    qtbot.addWidget(again)
    f2 = only(again, FinetuneForm)
    assert again.mode() == "finetune" and f2.isVisibleTo(again)
    assert f2.settings() == saved
    assert f2.task() == "classify" and f2.base_run() == bert
    assert (f2.file_edit.text(), f2.encoding()) == (str(mine), "latin-1")
    assert (f2.text_col.text(), f2.label_col.text()) == ("sentence", "mood")
    assert again.config is not None, named(again, "Errors", QLabel).text()
    ft, train = again.config.finetune, again.config.train
    assert (ft.encoding, ft.pooling, ft.freeze_embeddings, ft.freeze_layers) == \
        ("latin-1", "mean", True, 1)
    assert ft.body_lr_scale == 0.3 and ft.class_weights and ft.base_run == str(bert)
    assert (train.max_steps, train.eval_interval, train.learning_rate, train.batch_size) == \
        (123, 7, 3e-4, 5)
    again.shutdown()


def test_fine_tune_form_defaults_to_a_budget_in_epochs(qtbot, tmp_path, train_page_on,
                                                       engine_runs):
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    page, _ = train_page_on(root)
    page.set_mode("finetune")
    form = only(page, FinetuneForm)
    assert form.steps.text() == "auto: 3 epochs" and form.patience.text() == "off"
    assert form.eval_every.text() == "auto: half an epoch" and form.compare_seeds() is None
    assert page.config is not None, named(page, "Errors", QLabel).text()
    train = page.config.train
    assert (train.max_steps, train.eval_interval, train.num_train_epochs) == (None, None, 3.0)
    assert not train.early_stopping and train.warmup_ratio == 0.06
    form.patience.setValue(4)
    form.seeds.setValue(2)
    form.steps.setValue(200)
    assert page.config.train.early_stopping_patience == 4 and form.compare_seeds() == 2
    assert page.config.train.max_steps == 200 and page.config.train.eval_interval is None
    page.shutdown()


def test_does_pretraining_help_over_seeds_shows_mean_sd_and_baselines(
        qtbot, tmp_path, train_page_on, labeled_slice, engine_runs):
    page, _ = _comparing_page(tmp_path, train_page_on, labeled_slice, engine_runs, 4, 2, 2)
    labels = []
    line = named(page, "Progress", QLabel)
    page.sig_compare_progress.connect(lambda _p: labels.append(line.text()))
    with qtbot.waitSignal(page.sig_comparison_shown, timeout=90000) as shown:
        assert page.compare_init()
    pairs = shown.args[0]
    assert [pair[0].init for pair in pairs] == ["pretrained", "pretrained"]
    assert all(r.reason == "completed" and r.step == 4 for pair in pairs for r in pair)
    assert any("seed 2 of 2, 2 of 2: scratch" in text for text in labels)
    table = named(page, "Comparison", QTableWidget)
    rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
    said = verdict_of(pairs)
    acc = rows.index("accuracy")
    assert table.item(acc, 0).text() == f"{said.pretrained:.3f} ± {said.pretrained_sd:.3f}"
    assert table.item(acc, 1).text() == f"{said.scratch:.3f} ± {said.scratch_sd:.3f}"
    assert table.item(rows.index("steps"), 1).text() == "4, 4"
    base = rows.index("baseline: TF-IDF + logistic regression")
    assert rows[base - 1] == "baseline: majority class" and table.columnSpan(base, 0) == 2
    assert table.item(base, 0).text().startswith("accuracy 0.")
    caption = named(page, "Does pretraining help?", QLabel)
    assert caption.text() == f"Does pretraining help? {said.text}"
    assert "over 2 seeds" in said.text
    qtbot.waitUntil(lambda: button(page, "Start").isEnabled(), timeout=10000)
    page.shutdown()


def test_does_pretraining_help_shows_each_side_and_stops_at_a_step(qtbot, tmp_path, train_page_on,
                                                                   labeled_slice, engine_runs):
    # 5000 steps: far more than the test waits for, it is stopped; seeds: the engine's rule.
    page, state = _comparing_page(tmp_path, train_page_on, labeled_slice, engine_runs, 5000,
                                  5000, 0)
    form = only(page, FinetuneForm)
    progress, status = [], []
    page.sig_compare_progress.connect(progress.append)
    state.sig_status.connect(status.append)
    assert not button(page, "Stop").isEnabled()
    assert page.compare_init()
    assert button(page, "Stop").isEnabled()
    assert not button(page, "Does pretraining help?").isEnabled()
    assert not button(page, "Start").isEnabled()
    assert not labelled(page, "Device", QComboBox).isEnabled()
    qtbot.waitUntil(lambda: any(p.step >= 2 for p in progress), timeout=30000)
    assert {p.init for p in progress} == {"pretrained"}
    bar = named(page, "Training progress", QProgressBar)
    assert bar.maximum() == 5000 and 2 <= bar.value() < 5000
    assert "1 of 2: pretrained" in named(page, "Progress", QLabel).text()
    with qtbot.waitSignal(page.sig_compare_done, timeout=30000):
        button(page, "Stop").click()
        assert not button(page, "Stop").isEnabled()  # one stop is enough
        assert "Stopping" in named(page, "Progress", QLabel).text()
    # A set this small is compared over three seeds: the stop keeps the later ones from starting.
    (pre, scr), *later = page.comparison
    assert len(later) == 2 and {r.reason for pair in later for r in pair} == {NOT_STARTED}
    assert pre.reason == "stopped" and 2 <= pre.step < 5000
    assert scr.step == 0 and not scr.run_dir.exists()  # never started: no empty folder left
    assert not any(r.run_dir.exists() for pair in later for r in pair)
    caption = named(page, "Does pretraining help?", QLabel).text()
    assert "stopped" in caption and "scratch did not start" in caption
    assert "stopped" in status[-1]
    assert named(page, "Progress", QLabel).text() == "Comparison stopped."
    table = named(page, "Comparison", QTableWidget)
    ended = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())].index("ended")
    assert (table.item(ended, 0).text(), table.item(ended, 1).text()) == (
        "did not run; stopped", "did not run")
    assert button(page, "Start").isEnabled() and button(page, "Does pretraining help?").isEnabled()
    assert not button(page, "Stop").isEnabled() and page.busy() is None
    assert form.steps.isEnabled()
    page.shutdown()


def test_a_fine_tune_does_not_inherit_the_pretraining_runs_name(qtbot, tmp_path, train_page_on,
                                                                engine_runs):
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    page, state = train_page_on(root)
    with qtbot.waitSignal(page.sig_history_loaded, timeout=10000):
        state.sig_open_run.emit(root / engine_runs.gpt.name)  # a pretraining run named tiny-gpt
    assert labelled(page, "Run name", QLineEdit).text() == "tiny-gpt"
    page.set_mode("finetune")
    choose(page, "Device", "cpu")
    assert labelled(page, "Run name", QLineEdit).text() == ""
    assert page.config is not None, named(page, "Errors", QLabel).text()
    assert page.config.name == "classify-pretrained" and "gpt" not in page.config.name
    labelled(page, "Run name", QLineEdit).setText("my-classifier")
    page.set_mode("pretrain")
    name = labelled(page, "Run name", QLineEdit)
    assert name.text() == "tiny-gpt"  # each mode keeps its own name
    page.set_mode("finetune")
    assert page.config.name == "my-classifier"
