"""Configuration: presets, --set overrides and validation that names the field."""

from __future__ import annotations

import pytest

from lmstudio_app.core.config import (
    PRESETS,
    RunConfig,
    build_run_config,
    parse_overrides,
)
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.models import count_parameters


def test_overrides_are_typed_and_applied():
    cfg = build_run_config("clm", "tiny", 500, parse_overrides(
        ["n_layer=3", "learning_rate=3e-4", "dropout=0.1", "compile=false"]))
    assert cfg.model.n_layer == 3 and cfg.train.learning_rate == 3e-4
    assert cfg.model.dropout == 0.1 and cfg.train.compile is False
    assert cfg.model.arch == "gpt" and cfg.model.vocab_size == 500


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        (["n_embd=100", "n_head=3"], "n_embd"),
        (["block_size=512", "max_positions=256"], "block_size"),
        (["dropout=1.5"], "dropout"),
        (["learning_rate=-1"], "learning_rate"),
        (["batch_size=0"], "batch_size"),
    ],
)
def test_invalid_combinations_name_the_field(pairs, field):
    with pytest.raises(UserError, match=field):
        build_run_config("clm", "tiny", 500, parse_overrides(pairs))


def test_unknown_key_and_bad_value_are_refused():
    with pytest.raises(UserError, match="unknown field"):
        parse_overrides(["n_layers=4"])
    with pytest.raises(UserError, match="n_layer=four"):
        parse_overrides(["n_layer=four"])


def test_round_trip_through_dict():
    cfg = build_run_config("mlm", "tiny", 700, {"n_layer": 2})
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg


def test_presets_have_their_advertised_sizes():
    tiny = build_run_config("clm", "tiny", 8000).model
    small = build_run_config("clm", "small", 8000).model
    gpt2 = build_run_config("clm", "gpt2-124m", 50257).model
    bert = build_run_config("mlm", "bert-base", 30522).model
    assert 0.7e6 <= count_parameters(tiny) <= 1.5e6
    assert 10e6 <= count_parameters(small) <= 20e6
    assert abs(count_parameters(gpt2) - 124.4e6) < 1e6  # GPT-2 small with its vocabulary
    assert abs(count_parameters(bert) - 110e6) < 2e6  # BERT-base with its vocabulary
    assert set(PRESETS) >= {"tiny", "small", "gpt2-124m", "bert-base"}
