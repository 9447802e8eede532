"""The training loop on a tiny real model and a real token store."""

from __future__ import annotations

import math

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.runs import checkpoint as ckpt
from lmstudio_app.core.training.control import RunControl
from lmstudio_app.core.training.optim import lr_at
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "eval_interval": 10, "eval_batches": 2, "log_interval": 1, "sample_tokens": 8}


def tiny_cfg(data, objective="clm", **over):
    from lmstudio_app.core.data.tokenizer import Tokenizer

    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return build_run_config(objective, "tiny", vocab, {**TINY, **over}, data_dir=str(data))


def test_schedule_warms_up_then_decays():
    assert lr_at(0, 1.0, 0.1, 10, 100) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 0.1, 10, 100) == pytest.approx(1.0)
    assert lr_at(100, 1.0, 0.1, 10, 100) == pytest.approx(0.1)
    mid = lr_at(55, 1.0, 0.1, 10, 100)
    assert 0.1 < mid < 1.0


@pytest.mark.parametrize("objective", ["clm", "mlm"])
def test_run_writes_a_readable_run_folder(prepared_data, tmp_path, objective):
    sink = RecordingSink()
    cfg = tiny_cfg(prepared_data, objective, max_steps=20)
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "completed", sink.failure
    assert [m.step for m in sink.steps] == list(range(1, 21))
    assert [e.step for e in sink.evals] == [10, 20]
    assert all(math.isfinite(m.loss) and m.tokens_per_s > 0 for m in sink.steps)
    run = tmp_path / "run"
    for name in ("config.json", "tokenizer.model", "model.safetensors", "best.safetensors",
                 "state.pt", "metrics.jsonl", "log.txt", "status.json"):
        assert (run / name).is_file(), name
    assert runs.read_config(run) == cfg
    summary = runs.summarize(run)
    assert (summary.state, summary.step, summary.objective) == ("completed", 20, objective)
    assert summary.best_val_loss == pytest.approx(min(e.val_loss for e in sink.evals))
    kinds = [e["kind"] for e in runs.read_metrics(run)]
    assert kinds.count("step") == 20 and kinds.count("eval") == 2 and kinds[-1] == "finished"
    if objective == "clm":
        assert sink.evals[-1].bits_per_char is not None and sink.evals[-1].sample


def test_resume_continues_the_same_curve(prepared_data, tmp_path, stop_at):
    """Stop at step 15, resume, and match an uninterrupted run for 25 more steps."""
    over = {"max_steps": 40, "dropout": 0.1}
    whole = RecordingSink()
    Trainer(tiny_cfg(prepared_data, **over), tmp_path / "whole", whole).run()

    control = RunControl()
    first = stop_at(control, 15)
    r1 = Trainer(tiny_cfg(prepared_data, **over), tmp_path / "split", first, control).run()
    assert (r1.reason, r1.step) == ("stopped", 15)
    assert runs.summarize(tmp_path / "split").state == "stopped"
    second = RecordingSink()
    cfg = runs.read_config(tmp_path / "split")
    r2 = Trainer(cfg, tmp_path / "split", second, resume=True).run()
    assert (r2.reason, r2.step) == ("completed", 40)

    expected = {m.step: m.loss for m in whole.steps}
    resumed = {m.step: m.loss for m in first.steps + second.steps}
    assert sorted(resumed) == list(range(1, 41))
    for step in range(1, 41):
        assert resumed[step] == pytest.approx(expected[step], abs=1e-5), step
    assert len(second.steps) == 25


def test_pause_and_resume_from_another_thread(prepared_data, tmp_path):
    import threading

    control = RunControl()
    sink = RecordingSink()

    class PauseAt(RecordingSink):
        def step(self, m):
            sink.step(m)
            if m.step == 5:
                control.pause()

        def paused(self, step):
            sink.messages.append(f"paused at {step}")
            threading.Timer(0.2, control.resume).start()

    result = Trainer(tiny_cfg(prepared_data, max_steps=10), tmp_path / "run", PauseAt(),
                     control).run()
    assert result.reason == "completed"
    assert sink.messages == ["paused at 5"]
    assert [m.step for m in sink.steps] == list(range(1, 11))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(prepared_data, tmp_path):
    sink = RecordingSink()
    cfg = tiny_cfg(prepared_data, max_steps=200, learning_rate=1e12, warmup_steps=1,
                   grad_clip=0.0, checkpoint_interval=1)
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "failed"
    assert sink.failure and "loss became" in sink.failure and "checkpoint" in sink.failure
    assert runs.summarize(tmp_path / "run").state == "failed"
    # The weights on disk are the last finite ones.
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_pickled_checkpoint_is_refused(prepared_data, tmp_path):
    sink = RecordingSink()
    run = tmp_path / "run"
    Trainer(tiny_cfg(prepared_data, max_steps=10), run, sink).run()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"step": 3, "evil": Payload()}, run / runs.STATE)
    with pytest.raises(UserError, match="refused"):
        ckpt.load_state(run / runs.STATE)
    result = Trainer(runs.read_config(run), run, RecordingSink(), resume=True).run()
    assert result.reason == "failed"
    assert not marker.exists()  # nothing in the file ran
