"""Out-of-memory recovery: the real torch.OutOfMemoryError, raised once inside a step's forward
pass, halves the micro-batch and the curve goes on as if nothing happened."""

from __future__ import annotations

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.objectives.clm import CausalLM
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

from .test_trainer import tiny_cfg


def out_of_memory_at(monkeypatch: pytest.MonkeyPatch, calls: set[int]) -> list[int]:
    """CausalLM.loss raises torch.OutOfMemoryError at the given call numbers (from 0), as the
    CUDA allocator does mid-forward; returns the rows of every call, in order."""
    real = CausalLM.loss
    seen: list[int] = []

    def loss(self, model, batch):
        seen.append(len(batch[0]))
        if len(seen) - 1 in calls:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, model, batch)

    monkeypatch.setattr(CausalLM, "loss", loss)
    return seen


def losses(sink: RecordingSink) -> dict[int, float]:
    return {m.step: m.loss for m in sink.steps}


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_curve(prepared_data, tmp_path,
                                                                  monkeypatch):
    reference = RecordingSink()
    Trainer(tiny_cfg(prepared_data, max_steps=12), tmp_path / "ref", reference).run()

    seen = out_of_memory_at(monkeypatch, {5, 8})  # step 6, then step 8's first half
    sink = RecordingSink()
    result = Trainer(tiny_cfg(prepared_data, max_steps=12), tmp_path / "oom", sink).run()
    assert result.reason == "completed", result.error
    # 5 whole steps of 8 rows, the failed 6th, 4 + 4 rows, then 2 + 2 + 2 + 2 once 4 failed too.
    assert seen[:9] == [8, 8, 8, 8, 8, 8, 4, 4, 4]
    assert seen[9:13] == [2, 2, 2, 2]
    ref, got = losses(reference), losses(sink)
    assert ref.keys() == got.keys() == set(range(1, 13))
    for step in ref:
        assert got[step] == pytest.approx(ref[step], abs=1e-4), step
    said = [m for m in sink.messages if "out of memory" in m]
    assert len(said) == 2 and "continuing with 4 rows, 2 accumulated per step" in said[0]
    assert "out of memory at step 6" in (tmp_path / "oom" / runs.LOG).read_text()
    # On the CPU a step record has no MFU and no GPU memory (absent, not null or zero).
    assert all(m.mfu is None and m.memory_allocated is None for m in sink.steps)
    line = (tmp_path / "oom" / runs.METRICS).read_text().splitlines()[0]
    assert '"tokens_per_s"' in line and "mfu" not in line and "memory" not in line


def test_out_of_memory_at_one_row_fails_with_advice(prepared_data, tmp_path, monkeypatch):
    out_of_memory_at(monkeypatch, set(range(3, 1000)))
    sink = RecordingSink()
    result = Trainer(tiny_cfg(prepared_data, max_steps=12, batch_size=2), tmp_path / "r",
                     sink).run()
    assert result.reason == "failed"
    assert "one row at step 4" in result.error  # calls 0-2 were steps 1-3
    for advice in ("block_size", "n_layer", "gradient_checkpointing"):
        assert advice in result.error
    assert runs.read_status(tmp_path / "r")["state"] == "failed"


def test_compile_without_a_cpp_compiler_trains_eager_and_says_why(prepared_data, tmp_path,
                                                                   monkeypatch):
    from lmstudio_app.core.training.step import compile_for_training, cpp_compiler

    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cpp_compiler() is None
    sink = RecordingSink()
    result = Trainer(tiny_cfg(prepared_data, max_steps=2, eval_interval=2, compile=True),
                     tmp_path / "run", sink).run()
    assert result.reason == "completed" and result.step == 2, result.error
    assert any("C++ compiler" in m for m in sink.messages)
    model = torch.nn.Linear(2, 2)
    assert compile_for_training(model, torch.device("cpu"), sink.message) is model
