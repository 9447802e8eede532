"""Weight snapshots along the curve: kept log-spaced, opened by step with that step's weights."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.runs import checkpoint as ckpt
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.snapshots import choose_kept, log_grid
from lmstudio_app.core.training.trainer import Trainer

from .test_trainer import tiny_cfg


def test_a_long_run_keeps_about_twenty_spread_evenly_in_log_steps():
    steps = list(range(200, 100_001, 200))  # 500 evaluations
    kept = sorted(choose_kept(steps, 20, 100_000, best_step=37_400))
    assert 18 <= len(kept) <= 22
    assert 37_400 in kept and 100_000 in kept  # the best and the latest
    # Evenly in log steps: the ratio between neighbours (past the first, where evaluations are
    # sparser than the grid) stays near the grid's, 500**(1/19) = 1.39.
    ratios = [b / a for a, b in zip(kept[3:], kept[4:], strict=False)]
    assert all(1.2 < r < 1.6 for r in ratios), ratios
    assert log_grid(200, 100_000, 20)[0] == pytest.approx(200)
    assert log_grid(200, 100_000, 20)[-1] == pytest.approx(100_000)


def test_thinning_as_the_run_goes_keeps_what_thinning_at_the_end_would():
    every = list(range(50, 20_001, 50))
    kept: set[int] = set()
    for step in every:  # one snapshot more at each evaluation, then thin
        kept = choose_kept(kept | {step}, 12, 20_000, best_step=None)
    at_end = choose_kept(every, 12, 20_000, best_step=None)
    assert kept == at_end


def test_none_are_kept_when_keep_is_zero():
    assert choose_kept([10, 20, 30], 0, 30, best_step=20) == set()


class WeightsAtCheckpoints(RecordingSink):
    """Reads the committed weights file at each checkpoint event: what the run saved then."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def checkpoint(self, step, path, best):
        super().checkpoint(step, path, best)
        self.weights[step] = load_file(str(self.run_dir / runs.WEIGHTS))


def test_a_kept_checkpoint_opens_with_the_weights_of_its_step(prepared_data, tmp_path):
    run = tmp_path / "run"
    sink = WeightsAtCheckpoints(run)
    cfg = tiny_cfg(prepared_data, max_steps=40, eval_interval=2, keep_checkpoints=5)
    assert Trainer(cfg, run, sink).run().reason == "completed", sink.failure

    snaps = runs.list_snapshots(run)
    steps = [s.step for s in snaps]
    best = ckpt.read_manifest(run)["best_step"]
    assert set(steps) == choose_kept(range(2, 41, 2), 5, 40, best)
    assert 40 in steps and best in steps and 3 <= len(steps) <= 7
    assert all(s.bytes == s.path.stat().st_size > 0 for s in snaps)
    assert not [p for p in (run / runs.SNAPSHOTS).iterdir() if p.name.startswith(".")]

    for step in (steps[0], steps[len(steps) // 2]):
        loaded = load_run(run, step)
        assert loaded.weights == runs.snapshot_path(run, step)
        state = loaded.model.state_dict()
        saved = sink.weights[step]
        for name, tensor in saved.items():
            assert torch.equal(state[name], tensor), (step, name)
        # and not the final weights: the model changed since
        assert any(not torch.equal(saved[n], sink.weights[40][n]) for n in saved)
    assert load_run(run, str(steps[0])).weights == runs.snapshot_path(run, steps[0])


def test_a_step_without_a_snapshot_names_the_kept_steps(prepared_data, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_cfg(prepared_data, max_steps=6, eval_interval=2, keep_checkpoints=0)
    assert Trainer(cfg, run, RecordingSink()).run().reason == "completed"
    assert runs.list_snapshots(run) == [] and not (run / runs.SNAPSHOTS).exists()
    # The latest weights are that step's, snapshot or not.
    assert load_run(run, 6).weights == run / runs.WEIGHTS
    with pytest.raises(UserError) as err:
        load_run(run, 4)
    assert err.value.field == "checkpoint" and "no weights of step 4" in str(err.value)


def test_step_records_count_tokens_over_a_resume_and_sample_memory(prepared_data, tmp_path,
                                                                  stop_at):
    from lmstudio_app.core.training.control import RunControl

    run = tmp_path / "run"
    control = RunControl()
    first = stop_at(control, 5)
    cfg = tiny_cfg(prepared_data, max_steps=8)
    assert Trainer(cfg, run, first, control).run().step == 5
    per_step = first.info["tokens_per_step"]
    second = RecordingSink()
    Trainer(runs.read_config(run), run, second, resume=True).run()
    records = [r for r in runs.read_metrics(run) if r["kind"] == "step"]
    assert [r["tokens"] for r in records] == [s * per_step for s in range(1, 9)]
    assert all(r["rss_bytes"] > 10 << 20 for r in records)  # a process with torch loaded
    # No GPU: its figures are left out of the records, not written as zeros.
    assert not any({"gpu_memory_bytes", "gpu_utilization"} & r.keys() for r in records)


def test_validation_bits_per_byte_spreads_the_loss_over_the_text_bytes(prepared_data, tmp_path):
    from lmstudio_app.core.data.layout import STORE, TOKENIZER
    from lmstudio_app.core.data.store import TokenStore
    from lmstudio_app.core.data.tokenizer import Tokenizer

    sink = RecordingSink()
    Trainer(tiny_cfg(prepared_data, max_steps=10), tmp_path / "run", sink).run()
    m = sink.evals[-1]
    store = TokenStore.open(prepared_data / STORE)
    val = store.tokens("val")
    text = Tokenizer.load(prepared_data / TOKENIZER).decode(val.tolist())
    n_bytes = store.n_chars("val") * len(text.encode("utf-8")) / len(text)
    assert m.val_bpb == pytest.approx(m.val_loss * len(val) / (math.log(2) * n_bytes), rel=1e-6)
    assert m.val_bpb <= m.bits_per_char  # a character is one byte or more
    record = [r for r in runs.read_metrics(tmp_path / "run") if r["kind"] == "eval"][-1]
    assert record["val_bpb"] == pytest.approx(m.val_bpb)
