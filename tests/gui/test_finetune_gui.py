"""Fine-tuned runs in the window, on tiny real runs: the Playground's classify and QA panels."""

from __future__ import annotations

import math
import shutil

from PySide6.QtCore import QSettings

from lmstudio_app.core.config import OBJECTIVES
from lmstudio_app.gui.pages.playground.page import PlaygroundPage
from lmstudio_app.gui.pages.playground.task_panels import utf16_offset
from lmstudio_app.gui.state import AppState
from tests.gui import fixtures_finetune as ff

finetune_runs = ff.finetune_runs


def playground_on(qtbot, tmp_path, runs_root, run):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=runs_root.parent)
    page = PlaygroundPage(state)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.sig_model_loaded, timeout=20000,
                          check_params_cb=lambda path: path == run):
        state.sig_use_run.emit(run)
    return page


def test_classify_panel_shows_one_bar_per_label_summing_to_one(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.classify)
    assert page.current_panel() == "classify"
    assert OBJECTIVES["classify"].title in page.model_label.text()
    panel = page.classify_panel
    panel.text_edit.setPlainText("I loved this film, what a joy.")
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
        assert not panel.button.isEnabled()  # one prediction at a time
    result = got.args[0]
    assert set(panel.bars.values) == {"negative", "neutral", "positive"}
    assert math.isclose(sum(panel.bars.values.values()), 1.0, abs_tol=1e-5)
    assert all(0 <= bar.value() <= 1000 for bar in panel.bars.bars.values())
    assert result["label"] == max(panel.bars.values, key=panel.bars.values.get)
    assert result["label"] in panel.result_label.text()
    qtbot.waitUntil(panel.button.isEnabled)

    # An empty text is a readable message, not a traceback.
    panel.text_edit.setPlainText("   ")
    panel.button.click()
    qtbot.waitUntil(lambda: "empty" in page.error_text(), timeout=10000)
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()


def test_qa_panel_highlights_the_answer_span(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.qa)
    assert page.current_panel() == "qa" and page.qa_panel.extractive
    panel = page.qa_panel
    context = "Zoë met the Bennets 🎉 at Longbourn, near Meryton, on a fine spring morning."
    panel.context_edit.setPlainText(context)
    panel.question_edit.setText("Where did Zoë meet the Bennets?")
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
    result = got.args[0]
    assert context[result["start"]:result["end"]] == result["answer"]
    assert f"{result['score']:.2f}" in panel.answer_label.text()
    if result["start"] < result["end"]:
        assert panel.span == (result["start"], result["end"])
        assert panel.highlighted_text() == result["answer"]
    # Offsets past an emoji: Qt counts two units for it, Python one.
    assert utf16_offset(context, len(context)) == len(context) + 1
    panel.highlight((context.index("Longbourn"), context.index("Longbourn") + 9), context)
    assert panel.highlighted_text() == "Longbourn"
    # Editing the context drops a highlight that no longer matches it.
    panel.context_edit.setPlainText("Another text.")
    assert panel.span is None and panel.highlighted_text() == ""

    qtbot.waitUntil(panel.button.isEnabled)
    panel.question_edit.setText(" ")
    panel.button.click()
    qtbot.waitUntil(lambda: "question is empty" in page.error_text(), timeout=10000)
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()


def test_task_panels_refuse_a_pretrained_run(qtbot, tmp_path, finetune_runs):
    page = playground_on(qtbot, tmp_path, finetune_runs.runs_root, finetune_runs.qa)
    page.classify_text("hello")  # the classify panel is hidden, but the call is guarded
    assert "not a classify run" in page.error_text()
    assert page._task_job is None
    page.shutdown()


# ---------------------------------------------------------------------------------------------
# The Train page in fine-tune mode


def train_page_on(qtbot, tmp_path, runs_root):
    from lmstudio_app.gui.pages.train.page import TrainPage

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=runs_root.parent)
    page = TrainPage(state)
    qtbot.addWidget(page)
    return page, state


def test_finetune_mode_trains_a_classifier_and_plots_its_metrics(qtbot, tmp_path, finetune_runs):
    from lmstudio_app.core.data import labeled
    from tests.gui.fixtures_engine import _cache as engine_cache

    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_cache["runs"].runs_root, root)
    page, state = train_page_on(qtbot, tmp_path, root)
    page.set_mode("finetune")
    form = page.ft_form
    assert form.isVisibleTo(page) and not page.data_group.isVisibleTo(page)
    # Extractive QA starts only from BERT runs; classify from either.
    form.set_task("qa-extractive")
    assert [form.base_box.itemText(i).split(" · ")[1] for i in range(form.base_box.count())] \
        == ["mlm"]
    form.set_task("classify")
    assert form.base_box.count() == 2
    assert form.file_edit.text().endswith((".csv", ".jsonl"))  # the bundled sample
    form.base_box.setCurrentIndex(
        next(i for i in range(form.base_box.count()) if "gpt" in form.base_box.itemText(i)))

    # A missing file is a readable message and Start stays off.
    form.file_edit.setText(str(tmp_path / "nope.csv"))
    assert "not found" in page.error_label.text() and not page.start_button.isEnabled()
    assert page.error_label.text().startswith("Labeled file: ")
    assert "border" in form.file_edit.styleSheet() and form.steps.styleSheet() == ""
    form.set_file(ff._slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 60, header=True))
    form.steps.setValue(20)
    form.eval_every.setValue(10)
    form.batch_size.setValue(8)
    form.learning_rate.setText("2e-3")
    page.device_box.setCurrentIndex(max(page.device_box.findData("cpu"), 0))
    assert page.start_button.isEnabled(), page.error_label.text()
    with qtbot.waitSignal(page.sig_results_shown, timeout=60000) as shown:
        assert page.start()
    report = shown.args[0]
    assert report["task"] == "classify" and "confusion" in report
    assert page.session.reason == "completed"
    assert len(page.metrics_plot.points["accuracy"][0]) == 2  # evaluations at steps 10 and 20
    assert set(page.metrics_plot.points) >= {"accuracy", "macro_f1"}
    assert "accuracy" in page.results_label.text()

    # The confusion heatmap: counts as in results.json, darker for larger counts.
    view = page.confusion
    assert view.isVisibleTo(page) and view.labels == report["labels"]
    n = len(view.labels)
    counts = [[int(view.table.item(i, j).text()) for j in range(n)] for i in range(n)]
    assert counts == report["confusion"] and sum(map(sum, counts)) == report["n"]
    flat = [(counts[i][j], view.table.item(i, j).background().color().lightness())
            for i in range(n) for j in range(n)]
    assert min(flat)[1] >= max(flat)[1]
    # Clicking a cell lists the test texts of that (true, predicted) pair.
    i, j, (true, pred, texts) = ff.click_a_mistake(qtbot, view)
    assert (true, pred) == (view.labels[i], view.labels[j]) and len(texts) == counts[i][j]
    assert all(m["label"] == true and m["predicted"] == pred for m in report["mistakes"]
               if m["text"] in texts)
    assert view.texts.toPlainText().count("•") == len(texts)
    page.shutdown()


def test_does_pretraining_help_compares_two_runs_side_by_side(qtbot, tmp_path, finetune_runs):
    from lmstudio_app.core.data import labeled
    from tests.gui.fixtures_engine import _cache as engine_cache

    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_cache["runs"].runs_root, root)
    page, _ = train_page_on(qtbot, tmp_path, root)
    page.set_mode("finetune")
    form = page.ft_form
    form.set_file(ff._slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 40, header=True),
                  task="classify")
    form.steps.setValue(10)
    form.eval_every.setValue(10)
    form.batch_size.setValue(8)
    page.device_box.setCurrentIndex(max(page.device_box.findData("cpu"), 0))
    assert page.compare_button.isEnabled(), page.error_label.text()
    progress = []
    page.sig_compare_progress.connect(progress.append)
    with qtbot.waitSignal(page.sig_comparison_shown, timeout=60000) as shown:
        page.compare_button.click()
        assert page.busy() and not page.start_button.isEnabled()
    pre, scr = shown.args[0]
    assert (pre.init, scr.init) == ("pretrained", "scratch")
    assert pre.reason == scr.reason == "completed"
    # Each side's progress reached its last step, the pretrained side first.
    sides = [p.init for p in progress]
    assert sides == sorted(sides, key=("pretrained", "scratch").index)
    assert {(p.init, p.step, p.max_steps) for p in progress} >= {("pretrained", 10, 10),
                                                                 ("scratch", 10, 10)}
    assert page.progress_label.text() == "Comparison completed."
    table = page.compare_table
    rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
    assert "accuracy" in rows and table.columnCount() == 2
    row = rows.index("accuracy")
    assert table.item(row, 0).text() == f"{pre.report['accuracy']:.3f}"
    assert table.item(row, 1).text() == f"{scr.report['accuracy']:.3f}"
    assert "scratch" in page.results_label.text()
    verdict = page.compare_caption.text()
    assert "from scratch" in verdict and page.compare_box.isVisibleTo(page)
    # The engine's verdict, word for word as the command line prints it.
    from lmstudio_app.core.training.compare import verdict as engine_verdict

    assert verdict == f"Does pretraining help? {engine_verdict(pre, scr).text}"
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=10000)
    # A plain fine-tune afterwards: its test line replaces the results, the verdict stays with
    # its table.
    with qtbot.waitSignal(page.sig_results_shown, timeout=60000):
        page.start_button.click()
    assert "accuracy" in page.results_label.text() and page.compare_caption.text() == verdict
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=10000)
    page.shutdown()


# ---------------------------------------------------------------------------------------------
# Labeled data on the Data page


def test_mapping_dialog_checks_a_file_and_sets_the_fine_tune_defaults(qtbot, tmp_path,
                                                                     finetune_runs):
    from lmstudio_app.gui.pages.data.labeled_dialog import bar_heights
    from lmstudio_app.gui.pages.data.page import DataPage

    path = tmp_path / "reviews.csv"
    path.write_text("id,review,stars\n1,Great value and kind staff,good\n"
                    "2,Cold food and a long wait,bad\n3,,good\n4,Lovely garden,good\n"
                    "5,Great value and kind staff,good\n", encoding="utf-8")
    root = tmp_path / "home" / "runs"
    shutil.copytree(finetune_runs.runs_root, root)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=root.parent)
    data_page = DataPage(state)
    qtbot.addWidget(data_page)
    train, _ = train_page_on(qtbot, tmp_path, root)
    state.sig_labeled_ready.connect(train.use_labeled)  # in the window, one shared state

    dialog = data_page.open_labeled(path)
    qtbot.waitUntil(dialog.check_button.isEnabled, timeout=10000)
    assert dialog.columns == ["id", "review", "stars"], dialog.status.text()
    assert dialog.table.rowCount() >= 3 and dialog.table.item(0, 1).text().startswith("Great")
    assert dialog.mapping()["text"] == "review"  # guessed from the column's name
    dialog.set_mapping({"text": "review", "label": "stars"})
    assert not dialog.use_button.isEnabled()  # not checked yet
    with qtbot.waitSignal(dialog.sig_checked, timeout=10000) as checked:
        dialog.check_button.click()
    report = checked.args[0]
    assert (report.rows_read, report.rows_used) == (5, 4)
    text = dialog.report_view.toPlainText()
    assert "line 4" in text and "duplicate" in text
    assert sorted(bar_heights(dialog.bars)) == [1.0, 3.0]
    qtbot.waitUntil(dialog.use_button.isEnabled)
    with qtbot.waitSignal(state.sig_labeled_ready) as ready:
        dialog.use_button.click()
    choice = ready.args[0]
    assert choice.path == path and choice.columns == {"text": "review", "label": "stars"}
    assert train.mode() == "finetune" and train.ft_form.task() == "classify"
    assert train.ft_form.file_edit.text() == str(path)
    assert train.ft_form.text_col.text() == "review" and train.ft_form.label_col.text() == "stars"
    data_page.shutdown()
    train.shutdown()


# ---------------------------------------------------------------------------------------------
# Few-shot prompting with a GPT run


def test_few_shot_panel_builds_an_editable_prompt_and_generates(qtbot, tmp_path, finetune_runs):
    from lmstudio_app.gui.pages.playground.task_panels import few_shot_prompt, first_line
    from tests.gui.fixtures_engine import _cache as engine_cache

    engine = engine_cache["runs"]
    page = playground_on(qtbot, tmp_path, engine.runs_root, engine.gpt)
    assert page.current_panel() == "chat"
    page.gpt_tabs.setCurrentIndex(1)
    panel = page.few_shot_panel
    panel.query_edit.setText("A dull, grey afternoon.")
    prompt = panel.build_prompt()
    assert prompt == few_shot_prompt(panel.shots(), "A dull, grey afternoon.", "Text: ",
                                     "Sentiment: ")
    assert prompt.count("Text: ") == 4 and prompt.endswith("Text: A dull, grey afternoon."
                                                           "\nSentiment:")
    panel.prompt_edit.setPlainText(prompt + " ")  # the user's edit is what is sent
    panel.max_tokens.setValue(6)
    with qtbot.waitSignal(page.sig_task_result, timeout=20000) as got:
        panel.button.click()
    text = got.args[0]
    assert isinstance(text, str)  # greedy, at most six pieces of the tiny model's prose
    assert panel.answer_label.text().startswith("Answer: ") and repr(text) in \
        panel.raw_view.text()
    assert first_line("  pos\nText: x") == "pos"
    qtbot.waitUntil(panel.button.isEnabled)
    page.shutdown()


def test_opening_a_finished_classify_run_shows_its_metrics_and_confusion(qtbot, tmp_path,
                                                                        finetune_runs):
    import json

    page, _ = train_page_on(qtbot, tmp_path, finetune_runs.runs_root)
    with qtbot.waitSignal(page.sig_history_loaded, timeout=10000):
        page.open_run(finetune_runs.classify)
    qtbot.waitUntil(lambda: page.confusion.isVisibleTo(page), timeout=10000)
    report = json.loads((finetune_runs.classify / "results.json").read_text())
    assert page.mode() == "finetune" and page.ft_form.task() == "classify"
    assert page.confusion.matrix == report["confusion"]
    assert len(page.metrics_plot.points["accuracy"][0]) == 2  # evaluations at 10 and 20
    page.shutdown()


# ---------------------------------------------------------------------------------------------
# The fine-tune form's settings, the labeled file's encoding, the comparison's progress and stop


def test_fine_tune_form_settings_come_back_on_the_next_start(qtbot, tmp_path, finetune_runs):
    import json

    from lmstudio_app.gui.pages.train.page import KEY_FINETUNE, TrainPage
    from tests.gui.fixtures_engine import _cache as engine_cache

    engine = engine_cache["runs"]
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine.runs_root, root)
    page, state = train_page_on(qtbot, tmp_path, root)
    page.set_mode("finetune")
    form = page.ft_form
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
    f2 = again.ft_form
    assert again.mode() == "finetune" and f2.isVisibleTo(again)
    assert f2.settings() == saved
    assert f2.task() == "classify" and f2.base_run() == bert
    assert (f2.file_edit.text(), f2.encoding()) == (str(mine), "latin-1")
    assert (f2.text_col.text(), f2.label_col.text()) == ("sentence", "mood")
    assert again.config is not None, again.error_label.text()
    ft, train = again.config.finetune, again.config.train
    assert (ft.encoding, ft.pooling, ft.freeze_embeddings, ft.freeze_layers) == \
        ("latin-1", "mean", True, 1)
    assert ft.body_lr_scale == 0.3 and ft.class_weights and ft.base_run == str(bert)
    assert (train.max_steps, train.eval_interval, train.learning_rate, train.batch_size) == \
        (123, 7, 3e-4, 5)
    again.shutdown()


def _latin1_reviews(path):
    """A labeled CSV in latin-1: every text has an é (byte 0xe9, never valid UTF-8 there)."""
    from lmstudio_app.core.data import labeled

    rows = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()[1:]
    rows = [r for r in rows if r.isascii()]
    rows = rows[:20] + rows[-20:]  # the sample is grouped by label: both ends
    lines = ["text,label", *(r.replace(",", " au café,", 1) if not r.startswith('"')
                             else r.replace('",', ' au café",', 1) for r in rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def test_a_latin1_labeled_file_fine_tunes_with_the_encoding_chosen_in_the_dialog(
        qtbot, tmp_path, finetune_runs):
    import json

    from lmstudio_app.gui.pages.data.page import DataPage
    from tests.gui.fixtures_engine import _cache as engine_cache

    path = _latin1_reviews(tmp_path / "cafe.csv")
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_cache["runs"].runs_root, root)
    train, state = train_page_on(qtbot, tmp_path, root)
    data_page = DataPage(state)
    qtbot.addWidget(data_page)

    # Read as utf-8 (the default), the file is refused with a pointer to the Encoding box.
    dialog = data_page.open_labeled(path)
    qtbot.waitUntil(lambda: "not valid UTF-8" in dialog.status.text(), timeout=10000)
    # The dialog names its own setting, outlines it, and names no command-line flag.
    assert dialog.status.text().startswith("Encoding: ") and "--" not in dialog.status.text()
    assert "border" in dialog.encoding_box.styleSheet()
    assert not dialog.check_button.isEnabled()
    qtbot.waitUntil(dialog.encoding_box.isEnabled)  # off while the file is read
    dialog.encoding_box.setCurrentText("latin-1")
    qtbot.waitUntil(dialog.check_button.isEnabled, timeout=10000)
    assert "café" in dialog.table.item(0, 0).text()
    assert dialog.encoding_box.styleSheet() == ""
    with qtbot.waitSignal(dialog.sig_checked, timeout=10000) as checked:
        dialog.check_button.click()
    assert checked.args[0].rows_used == 40
    qtbot.waitUntil(dialog.use_button.isEnabled)
    with qtbot.waitSignal(state.sig_labeled_ready) as ready:
        dialog.use_button.click()
    assert ready.args[0].encoding == "latin-1"

    form = train.ft_form
    assert train.mode() == "finetune" and form.encoding() == "latin-1"
    assert form.file_edit.text() == str(path)
    form.steps.setValue(4)
    form.eval_every.setValue(4)
    form.batch_size.setValue(8)
    train.device_box.setCurrentIndex(max(train.device_box.findData("cpu"), 0))
    assert train.config is not None and train.config.finetune.encoding == "latin-1"
    with qtbot.waitSignal(train.sig_results_shown, timeout=60000):
        assert train.start()
    assert train.session.reason == "completed", train.error_label.text()
    assert "UTF-8" not in train.error_label.text()
    config = json.loads((train.session.run_dir / "config.json").read_text())
    assert config["run"]["finetune"]["encoding"] == "latin-1"
    data_page.shutdown()
    train.shutdown()


def test_does_pretraining_help_shows_each_side_and_stops_at_a_step(qtbot, tmp_path,
                                                                   finetune_runs):
    from lmstudio_app.core.data import labeled
    from tests.gui.fixtures_engine import _cache as engine_cache

    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_cache["runs"].runs_root, root)
    page, state = train_page_on(qtbot, tmp_path, root)
    page.set_mode("finetune")
    form = page.ft_form
    form.set_file(ff._slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 40, header=True),
                  task="classify")
    form.steps.setValue(5000)  # far more than the test waits for: it is stopped
    form.eval_every.setValue(5000)
    form.batch_size.setValue(8)
    page.device_box.setCurrentIndex(max(page.device_box.findData("cpu"), 0))
    progress, status = [], []
    page.sig_compare_progress.connect(progress.append)
    state.sig_status.connect(status.append)
    assert not page.stop_button.isEnabled()
    assert page.compare_init()
    assert page.stop_button.isEnabled() and not page.compare_button.isEnabled()
    assert not page.start_button.isEnabled() and not page.device_box.isEnabled()
    qtbot.waitUntil(lambda: any(p.step >= 2 for p in progress), timeout=30000)
    assert {p.init for p in progress} == {"pretrained"}
    assert page.progress.maximum() == 5000 and 2 <= page.progress.value() < 5000
    assert "1 of 2: pretrained" in page.progress_label.text()
    with qtbot.waitSignal(page.sig_compare_done, timeout=30000):
        page.stop_button.click()
        assert not page.stop_button.isEnabled()  # one stop is enough
        assert "Stopping" in page.progress_label.text()
    pre, scr = page.comparison
    assert pre.reason == "stopped" and 2 <= pre.step < 5000
    assert scr.step == 0 and not scr.run_dir.exists()  # never started: no empty folder left
    assert "stopped" in page.results_label.text() and "scratch did not start" in \
        page.results_label.text()
    assert "stopped" in status[-1] and page.progress_label.text() == "Comparison stopped."
    table = page.compare_table
    ended = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())].index("ended")
    assert (table.item(ended, 0).text(), table.item(ended, 1).text()) == ("stopped",
                                                                          "did not run")
    assert page.start_button.isEnabled() and page.compare_button.isEnabled()
    assert not page.stop_button.isEnabled() and page.busy() is None
    assert form.steps.isEnabled()
    page.shutdown()
