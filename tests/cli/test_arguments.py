"""Every numeric option of every command is checked at the edge: out of range, not a number or
not finite is one line on stderr and exit status 2, before any work starts. `--set` values go
through the configuration's own checks the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.cli.main import build_parser, main

RUN = ["--run", "no/such/run"]
FT = ["--task", "classify", "--train", "t.csv", "--from", "no/such/run"]

BAD_OPTIONS = [
    ("generate", [*RUN], "--max-new-tokens", ["-5", "0", "2.5", "many"]),
    ("generate", [*RUN], "--top-k", ["-1", "x"]),
    ("generate", [*RUN], "--top-p", ["-0.5", "0", "1.5", "nan"]),
    ("generate", [*RUN], "--temperature", ["-1", "inf", "nan"]),
    ("generate", [*RUN], "--seed", ["-1", str(2**64), "1.5"]),
    ("fill-mask", [*RUN, "a [MASK] day"], "--top-k", ["0", "-3"]),
    ("prepare", ["c.txt", "--out", "d"], "--vocab-size", ["0", "10", str(2**21)]),
    ("prepare", ["c.txt", "--out", "d"], "--val-fraction", ["0", "-0.1", "0.9", "nan"]),
    ("prepare", ["c.txt", "--out", "d"], "--seed", ["-1"]),
    ("pretrain", ["--data", "d"], "--max-steps", ["0", "-5", "1e3"]),
    ("finetune", [*FT], "--max-steps", ["0"]),
    ("finetune", [*FT], "--freeze-layers", ["-1"]),
    ("finetune", [*FT], "--body-lr-scale", ["0", "-1", "11", "inf"]),
    ("finetune", [*FT], "--max-length", ["-1"]),
    ("finetune", [*FT], "--stride", ["0"]),
    ("finetune", [*FT], "--val-fraction", ["1.5", "-0.1"]),
    ("finetune", [*FT], "--test-fraction", ["2"]),
    ("finetune", [*FT], "--split-seed", ["-1"]),
    ("compare-init", [*FT], "--max-steps", ["-1"]),
    ("compare-init", [*FT], "--body-lr-scale", ["nan"]),
    ("demo", [], "--max-steps", ["0"]),
]


@pytest.mark.parametrize("command,rest,option,values", BAD_OPTIONS,
                         ids=[f"{c} {o}" for c, _, o, _ in BAD_OPTIONS])
def test_bad_numbers_are_refused_at_the_edge(capsys, command, rest, option, values):
    for value in values:
        with pytest.raises(SystemExit) as exited:
            main([command, *rest, option, value])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert option in err and "Traceback" not in err


def test_every_numeric_option_has_a_checked_type():
    """No command takes a bare int or float: each numeric option has a checking type."""
    _, parsers = build_parser()
    for name, parser in parsers.items():
        for action in parser._actions:
            assert action.type not in (int, float), (name, action.option_strings)


@pytest.mark.parametrize("pair", [
    "learning_rate=inf", "learning_rate=-1", "learning_rate=nan", "learning_rate=0",
    "beta1=1.5", "beta2=-0.1", "weight_decay=-0.1", "grad_clip=-1", "dropout=1.0",
    "dropout=nan", "seed=-3", "max_steps=0", "block_size=0", "n_layer=abc", "n_layer=2.5",
    "sample_tokens=-1", "warmup_steps=-1", "min_lr=-1", "min_lr=1", "eval_interval=0",
    "batch_size=-8", "type_vocab_size=0", "compile=maybe", "no_such_field=1",
])
def test_set_values_go_through_the_configuration_checks(capsys, prepared_data: Path, pair):
    key = pair.partition("=")[0]
    code = main(["pretrain", "--data", str(prepared_data), "--set", pair, "--out",
                 "never/made"])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert key in err
    assert not Path("never/made").exists()


def test_every_command_row_finds_its_functions_and_help() -> None:
    """A row of the command table names its module; the module's add_<name>_arguments and
    run_<name> are found by the command's name, and the help line is the row's."""
    from lmstudio_app.cli.main import COMMANDS

    _, parsers = build_parser()
    assert list(parsers) == list(COMMANDS)
    for name, command in COMMANDS.items():
        add, run = command.functions(name)
        assert add.__name__ == f"add_{name.replace('-', '_')}_arguments"
        assert parsers[name].get_default("handler") is run
        assert parsers[name].description == command.help
