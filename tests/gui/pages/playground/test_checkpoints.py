"""The weights the instrument views offer: the kept snapshots by step, then latest and best."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from lmstudio_app.core import runs
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.gui.pages.playground.checkpoints import checkpoint_choices, checkpoint_name


def test_the_views_offer_every_kept_snapshot_in_step_order_then_latest_and_best(engine_runs):
    snaps = runs.list_snapshots(engine_runs.gpt)
    assert snaps, "the engine's runs keep snapshots at their evaluations"
    choices = checkpoint_choices(engine_runs.gpt)
    keys = [key for _label, key in choices]
    assert keys[:len(snaps)] == [s.step for s in snaps] == sorted(s.step for s in snaps)
    assert keys[len(snaps):] in (["latest"], ["latest", "best"])
    assert [label for label, _ in choices][0] == checkpoint_name(snaps[0].step)
    # A choice opens those very weights.
    loaded = load_run(engine_runs.gpt, keys[0])
    saved = load_file(str(snaps[0].path))
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items() if k in state)


def test_a_run_without_weights_offers_nothing(tmp_path):
    assert checkpoint_choices(tmp_path) == []
