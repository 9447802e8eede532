"""Pause and resume inside one run, per-step progress and the loop's phases (real tiny runs)."""

from __future__ import annotations

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.training.control import RunControl
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "max_steps": 12, "log_interval": 4, "eval_interval": 100, "eval_batches": 2,
        "sample_tokens": 4, "device": "cpu"}


class PauseAt(RecordingSink):
    """Pauses the loop after step `at`; resumes it as soon as the loop says it has paused."""

    def __init__(self, control: RunControl, at: int) -> None:
        super().__init__()
        self.control, self.at, self.paused_at = control, at, []

    def progress(self, step: int, max_steps: int) -> None:
        super().progress(step, max_steps)
        if step == self.at:
            self.control.pause()

    def paused(self, step: int) -> None:
        self.paused_at.append(step)
        self.control.resume()


def _config(data):
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return build_run_config("clm", "tiny", vocab, dict(TINY), data_dir=str(data))


def test_a_pause_between_log_points_leaves_the_logged_losses_as_an_uninterrupted_run(
        prepared_data, tmp_path):
    straight = RecordingSink()
    assert Trainer(_config(prepared_data), tmp_path / "a", straight).run().reason == "completed"
    control = RunControl()
    paused = PauseAt(control, at=2)  # mid-window: the log points are 4, 8, 12
    assert Trainer(_config(prepared_data), tmp_path / "b", paused, control).run().reason == \
        "completed"
    assert paused.paused_at == [2]
    assert [m.step for m in paused.steps] == [m.step for m in straight.steps] == [4, 8, 12]
    for a, b in zip(straight.steps, paused.steps, strict=True):
        assert b.loss == pytest.approx(a.loss, rel=1e-5), (a.step, a.loss, b.loss)
    # ... and so does the metrics file, which a resumed view of the run reads back.
    logged = [e["loss"] for e in runs.read_metrics(tmp_path / "b") if e["kind"] == "step"]
    assert logged == pytest.approx([m.loss for m in straight.steps], rel=1e-5)


def test_every_step_reports_progress_and_the_loop_says_what_it_does_between(
        prepared_data, tmp_path):
    sink = RecordingSink()
    Trainer(_config(prepared_data), tmp_path / "run", sink).run()
    assert sink.progress_steps == list(range(1, 13))  # every step, not only the 3 log points
    assert len(sink.steps) == 3
    assert sink.phases[0] == "loading the data and building the model"
    assert sink.phases[-1] == "evaluating"
