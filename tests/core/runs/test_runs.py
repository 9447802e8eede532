"""The run folder's record: what resumes remember, what readers say, what messages promise.

Resume keeps what the user set apart from what was derived, finds its data from anywhere,
leaves the record as it was when it fails; readers survive damaged files and list them; the
NaN message names only the checkpoint that exists."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.runs import checkpoint as ckpt
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "eval_interval": 10, "eval_batches": 2, "log_interval": 1, "sample_tokens": 4}


def _cfg(data: Path, **over: object):
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return build_run_config("clm", "tiny", vocab, {**TINY, **over}, data_dir=str(data))


@pytest.fixture(scope="module")
def finished(prepared_data: Path, tmp_path_factory) -> Path:
    """A completed 20-step run, copied by each test that changes it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = Trainer(_cfg(prepared_data, max_steps=20), run, RecordingSink()).run()
    assert result.reason == "completed", result.error
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def test_resume_with_a_lower_learning_rate_than_the_derived_floor(finished, tmp_path):
    run = _copy(finished, tmp_path)
    config = json.loads((run / runs.CONFIG).read_text("utf-8"))
    assert config["run"]["train"]["min_lr"] is None  # derived, so not stored as chosen
    assert config["run"]["train"]["warmup_steps"] is None
    cfg = runs.resume_config(run, {"learning_rate": 1e-4, "max_steps": 30})
    assert cfg.train.min_lr_value == pytest.approx(1e-5)
    result = Trainer(cfg, run, RecordingSink(), resume=True).run()
    assert result.reason == "completed" and result.step == 30, result.error
    config = json.loads((run / runs.CONFIG).read_text("utf-8"))
    assert config["run"]["train"]["max_steps"] == 30 and config["run"]["train"]["min_lr"] is None
    assert config["resumes"][0]["step"] == 20
    assert config["resumes"][0]["changed"]["learning_rate"] == [2e-3, 1e-4]
    summary = runs.summarize(run)
    assert (summary.step, summary.max_steps, summary.state) == (30, 30, "completed")


def test_paths_are_absolute_and_found_again_when_the_tree_moves(prepared_data, tmp_path):
    tree = tmp_path / "project"
    shutil.copytree(prepared_data, tree / "data")
    here = Path.cwd()
    os.chdir(tree)
    try:
        cfg = _cfg(Path("data"), max_steps=10)
        result = Trainer(cfg, Path("runs/r"), RecordingSink()).run()
    finally:
        os.chdir(here)
    assert result.reason == "completed", result.error
    config = json.loads((tree / "runs/r" / runs.CONFIG).read_text("utf-8"))
    assert config["run"]["data_dir"] == str(tree / "data")
    assert config["paths"]["data_dir"] == "../../data"
    moved = tmp_path / "elsewhere"
    tree.rename(moved)
    cfg = runs.resume_config(moved / "runs/r", {"max_steps": 15})
    assert cfg.data_dir == str(moved / "data")
    result = Trainer(cfg, moved / "runs/r", RecordingSink(), resume=True).run()
    assert result.reason == "completed" and result.step == 15, result.error


def test_a_failed_resume_leaves_the_record_as_it_was(finished, tmp_path):
    run = _copy(finished, tmp_path)
    before = {n: (run / n).read_bytes() for n in (runs.STATUS, runs.METRICS, runs.CONFIG)}
    (run / runs.TOKENIZER).rename(tmp_path / "away.model")
    result = Trainer(runs.resume_config(run, {"max_steps": 30}), run, RecordingSink(),
                     resume=True).run()
    assert result.reason == "failed" and "tokenizer" in result.error
    assert {n: (run / n).read_bytes() for n in before} == before
    assert runs.summarize(run).state == "completed"
    assert "resume failed" in (run / runs.LOG).read_text("utf-8")
    (tmp_path / "away.model").rename(run / runs.TOKENIZER)
    result = Trainer(runs.resume_config(run, {"max_steps": 30}), run, RecordingSink(),
                     resume=True).run()
    assert result.reason == "completed", result.error


def test_temporaries_left_by_a_kill_are_removed_on_the_next_start(finished, tmp_path):
    run = _copy(finished, tmp_path)
    for name in (".model.safetensors.k1ll3d.tmp", ".state.pt.abc.tmp", ".status.json.x.tmp"):
        (run / name).write_bytes(b"half a file")
    result = Trainer(runs.resume_config(run, {"max_steps": 22}), run, RecordingSink(),
                     resume=True).run()
    assert result.reason == "completed", result.error
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("damage,reason", [
    (b"\x89PNG\r\n\x1a\n garbage", "not UTF-8"),
    (b'["a", "list"]', "a JSON list"),
    (b"{", "not valid JSON"),
])
def test_a_damaged_config_is_one_line_and_listed(finished, tmp_path, damage, reason):
    run = _copy(finished, tmp_path)
    (run / runs.CONFIG).write_bytes(damage)
    with pytest.raises(UserError, match=reason):
        runs.resume_config(run)
    [listed] = runs.list_runs(tmp_path)
    assert listed.state == "damaged" and reason in listed.problem


def test_a_string_where_a_number_belongs_names_the_field(finished, tmp_path):
    run = _copy(finished, tmp_path)
    config = json.loads((run / runs.CONFIG).read_text("utf-8"))
    config["run"]["model"]["n_layer"] = "four"
    (run / runs.CONFIG).write_text(json.dumps(config), "utf-8")
    with pytest.raises(UserError, match=r"config\.json: damaged \(n_layer: holds 'four' "
                                        r"\(string\), expected a whole number\)"):
        runs.read_config(run)
    config["run"]["model"]["n_layer"] = 1
    config["run"]["train"] = [1, 2]
    (run / runs.CONFIG).write_text(json.dumps(config), "utf-8")
    with pytest.raises(UserError, match="train: holds a list"):
        runs.read_config(run)


def test_metrics_readers_survive_bad_bytes_and_repeated_steps(finished, tmp_path):
    run = _copy(finished, tmp_path)
    with open(run / runs.METRICS, "ab") as fh:
        fh.write(b'{"kind": "step", "step": 19, "loss": 1.0, "note": "caf\xe9"}\n')
        fh.write(b"\xff\xfe not json\n")
        fh.write(b'{"kind": "step", "step": 20, "loss": 2.0}\n{"kind": "st')  # torn
    events = runs.read_metrics(run)
    steps = [e["step"] for e in events if e["kind"] == "step"]
    assert steps == list(range(1, 21))  # the later record of a step wins, in order
    assert [e["loss"] for e in events if e["kind"] == "step"][-2:] == [1.0, 2.0]
    runs.truncate_metrics(run, 10)
    assert max(e["step"] for e in runs.read_metrics(run) if "step" in e) == 10


def test_nan_messages_name_only_the_checkpoint_that_exists(prepared_data, tmp_path):
    # The weights turn NaN in the first update, just before the first evaluation (step 1):
    # our message, not "probability tensor contains inf/nan" from the sample.
    sink = RecordingSink()
    cfg = _cfg(prepared_data, max_steps=5, learning_rate=1e30, warmup_steps=0, grad_clip=0.0,
               eval_interval=1)
    result = Trainer(cfg, tmp_path / "early", sink).run()
    assert result.reason == "failed" and "unexpected" not in result.error
    assert result.error.startswith(("the weights became NaN or infinite before the evaluation "
                                    "at step 1", "the validation loss became nan at step 1"))
    assert "No checkpoint was saved" in result.error and "resume" not in result.error
    assert not runs.resumable(tmp_path / "early")
    # With a checkpoint on disk, the message names its step and resuming it works.
    cfg = _cfg(prepared_data, max_steps=40, eval_interval=10)
    assert Trainer(cfg, tmp_path / "later", RecordingSink()).run().reason == "completed"
    cfg = runs.resume_config(tmp_path / "later", {"max_steps": 60, "learning_rate": 1e30,
                                                  "grad_clip": 0.0, "warmup_steps": 0})
    result = Trainer(cfg, tmp_path / "later", RecordingSink(), resume=True).run()
    assert result.reason == "failed" and "checkpoint of step 40 is kept" in result.error
    assert ckpt.committed_step(tmp_path / "later") == 40
    cfg = runs.resume_config(tmp_path / "later", {"max_steps": 45, "learning_rate": 1e-4,
                                                  "grad_clip": 1.0, "warmup_steps": 0})
    assert Trainer(cfg, tmp_path / "later", RecordingSink(), resume=True).run().reason == \
        "completed"


def test_a_run_deleted_while_training_fails_and_is_not_recreated(prepared_data, tmp_path):
    class DeleteAt(RecordingSink):
        def step(self, m):
            super().step(m)
            if m.step == 15:
                shutil.rmtree(tmp_path / "run")

    result = Trainer(_cfg(prepared_data, max_steps=40), tmp_path / "run", DeleteAt()).run()
    assert result.reason == "failed"
    assert "deleted or moved during training (at step 20)" in result.error
    assert not (tmp_path / "run").exists()


def test_a_run_without_a_checkpoint_starts_again_in_its_folder(prepared_data, tmp_path):
    run = tmp_path / "run"
    assert Trainer(_cfg(prepared_data, max_steps=5), run, RecordingSink()).run().reason == \
        "completed"
    for name in (runs.WEIGHTS, runs.BEST_WEIGHTS, runs.STATE, runs.CHECKPOINT):
        (run / name).unlink()  # as if killed before its first checkpoint
    runs.write_status(run, "running", 3, None)
    sink = RecordingSink()
    result = Trainer(runs.resume_config(run, {"max_steps": 12}), run, sink, resume=True).run()
    assert result.reason == "completed" and result.step == 12, result.error
    assert [m.step for m in sink.steps] == list(range(1, 13))
    steps = [e["step"] for e in runs.read_metrics(run) if e["kind"] == "step"]
    assert steps == list(range(1, 13))


def test_status_of_a_dead_writer_reads_interrupted(finished, tmp_path):
    run = _copy(finished, tmp_path)
    status = json.loads((run / runs.STATUS).read_text("utf-8"))
    status.update(state="running", pid=2**22 + 17)  # no such process
    (run / runs.STATUS).write_text(json.dumps(status), "utf-8")
    assert runs.read_status(run)["state"] == "interrupted"
    assert runs.summarize(run).state == "interrupted"
    status.update(pid=os.getpid(), started="0")  # our pid, but another process's start
    (run / runs.STATUS).write_text(json.dumps(status), "utf-8")
    assert runs.read_status(run)["state"] == "interrupted"
