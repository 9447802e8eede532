"""The fine-tune mode's Method box: LoRA chosen in the window trains a run that keeps only its
adapters and head."""

from __future__ import annotations

import json
import shutil

from PySide6.QtWidgets import QLabel

from lmstudio_app.core.data import labeled
from lmstudio_app.gui.find import button, choose, named, only
from lmstudio_app.gui.pages.train.finetune_form import FinetuneForm
from lmstudio_app.gui.pages.train.method_box import MethodBox


def test_lora_chosen_in_the_window_trains_adapters(qtbot, tmp_path, train_page_on,
                                                   labeled_slice, engine_runs):
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    page, _ = train_page_on(root)
    page.set_mode("finetune")
    form, method = only(page, FinetuneForm), only(page, MethodBox)
    assert method.isVisibleTo(page) and not method.r.isVisibleTo(page)  # full: no LoRA rows
    form.set_file(labeled_slice(labeled.sample_sentiment_path(), tmp_path / "s.csv", 60,
                                header=True), task="classify")
    form.base_box.setCurrentIndex(
        next(i for i in range(form.base_box.count()) if "gpt" in form.base_box.itemText(i)))
    form.steps.setValue(10)
    form.eval_every.setValue(10)
    form.batch_size.setValue(8)
    choose(page, "Device", "cpu")
    method.set_method("lora")
    assert method.r.isVisibleTo(page)
    method.target.setText("q_proj")  # not a GPT layer: the engine's message, Start off
    assert "q_proj" in named(page, "Errors", QLabel).text()
    assert not button(page, "Start").isEnabled()
    method.target.setText("c_attn")
    method.r.setValue(4)
    assert button(page, "Start").isEnabled(), named(page, "Errors", QLabel).text()
    with qtbot.waitSignal(page.sig_results_shown, timeout=120000):
        assert page.start()
    assert page.session.reason == "completed"
    run = page.session.run_dir
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["run"]["lora"]["r"] == 4 and cfg["run"]["lora"]["target_modules"] == ["c_attn"]
    base = cfg["run"]["finetune"]["base_run"]
    assert (run / "model.safetensors").stat().st_size < \
        (type(run)(base) / "model.safetensors").stat().st_size / 3
    page.shutdown()
