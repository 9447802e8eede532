"""report_to=tensorboard: TensorBoard's own reader gives back every scalar of metrics.jsonl."""

from __future__ import annotations

import numpy as np
import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.report_to import report_to_list
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trackers import TENSORBOARD_DIR, scalars
from lmstudio_app.core.training.trainer import Trainer
from tests.core.training.test_trainer import tiny_cfg

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _events(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def test_tensorboard_reads_back_every_scalar_of_the_metrics_file(prepared_data, tmp_path):
    cfg = tiny_cfg(prepared_data, max_steps=12, eval_interval=6, report_to="tensorboard")
    sink = RecordingSink()
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "completed", sink.failure
    events = _events(tmp_path / "run" / TENSORBOARD_DIR)
    expected: dict[str, dict[int, float]] = {}
    for record in runs.read_metrics(tmp_path / "run"):
        if record["kind"] in ("step", "eval"):
            for tag, value in scalars({k: v for k, v in record.items()
                                       if k not in ("kind", "time")}).items():
                expected.setdefault(tag, {})[record["step"]] = value
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "val_loss", "val_ppl"} <= set(expected)
    assert set(events) == set(expected)
    for tag, by_step in expected.items():
        assert sorted(events[tag]) == sorted(by_step), tag
        got = np.array([events[tag][s] for s in sorted(by_step)])
        want = np.array([by_step[s] for s in sorted(by_step)], dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=tag)


def test_scalars_flatten_nested_figures_and_skip_text():
    got = scalars({"step": 3, "loss": 2.0, "sample": "text", "best": True, "bits_per_char": None,
                   "extra": {"accuracy": 0.5, "f1": float("nan")}})
    assert got == {"loss": 2.0, "extra/accuracy": 0.5}


def test_report_to_refuses_unknown_and_missing_trackers():
    assert report_to_list("none") == [] and report_to_list("") == []
    assert report_to_list(" TensorBoard , tensorboard") == ["tensorboard"]
    with pytest.raises(UserError) as bad:
        report_to_list("tensorboard,comet")
    assert bad.value.field == "report_to" and "'comet'" in str(bad.value)
    import importlib.util

    missing = [n for n in ("wandb", "mlflow", "trackio") if importlib.util.find_spec(n) is None]
    if missing:
        with pytest.raises(UserError, match=f"pip install {missing[0]}"):
            report_to_list(missing[0])


def test_no_tracker_no_folder(prepared_data, tmp_path):
    result = Trainer(tiny_cfg(prepared_data, max_steps=2, eval_interval=2), tmp_path / "r").run()
    assert result.reason == "completed"
    assert not (tmp_path / "r" / TENSORBOARD_DIR).exists()
