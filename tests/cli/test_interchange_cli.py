"""export and import from the command line: real subprocesses, one line and exit 2 on bad
input, nothing written."""

from __future__ import annotations

import json

import pytest

from lmstudio_app.cli.main import main
from tests.conftest import run_cli

pytest.importorskip("transformers", reason="pip install 'lmstudio-app[hf]'")


def test_export_hf_and_gguf_then_import(tiny_runs, tmp_path):
    out = run_cli("export", "--run", str(tiny_runs["gpt"]), "--format", "hf", "--out", "hf",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("hf: GPT2LMHeadModel, ") and out.stderr == ""
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "gpt2"
    out = run_cli("export", "--run", str(tiny_runs["gpt"]), "--format", "gguf", "--out",
                  "m.gguf", "--dtype", "q8_0", "--checkpoint", "latest", "--license", "mit",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "GGUF, q8_0, tokenizer plamo2" in out.stdout
    assert out.stderr.startswith("note: llama.cpp may order the pieces of a long run")
    assert (tmp_path / "m.gguf").stat().st_size > 0
    out = run_cli("import", "--hf", "hf", "--out", "runs/back", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("runs/back: clm run from GPT2LMHeadModel")
    out = run_cli("generate", "--run", "runs/back", "--prompt", "It is", "--max-new-tokens",
                  "5", "--seed", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def _one_line_exit_2(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_runs, hf_gpt2, tmp_path,
                                                         capsys):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("no model here")
    err = _one_line_exit_2(capsys, "import", "--hf", str(tmp_path / "text"), "--out",
                           str(tmp_path / "r1"))
    assert "not a Hugging Face model folder" in err and "(option --hf)" in err
    # Our own run folder is not a Hugging Face one either.
    _one_line_exit_2(capsys, "import", "--hf", str(tiny_runs["gpt"]), "--out",
                     str(tmp_path / "r2"))
    err = _one_line_exit_2(capsys, "export", "--run", str(tiny_runs["bert"]), "--format",
                           "gguf", "--out", str(tmp_path / "b.gguf"))
    assert "GGUF holds GPT and Llama language models" in err and "--format hf" in err
    err = _one_line_exit_2(capsys, "export", "--run", str(tmp_path / "text"), "--format", "hf",
                           "--out", str(tmp_path / "x"))
    assert "not a run folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text"]


def test_pretrain_a_llama_with_muon_then_export_it(prepared_data, tmp_path):
    out = run_cli("pretrain", "--data", str(prepared_data), "--arch", "llama", "--preset",
                  "tiny", "--optimizer", "muon", "--max-steps", "4", "--set", "eval_interval=4",
                  "--set", "n_layer=1", "--set", "sample_prompt=", "--out", "runs/llama",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = tmp_path / "runs" / "llama"
    cfg = json.loads((run / "config.json").read_text())["run"]
    assert (cfg["model"]["arch"], cfg["train"]["optimizer"]) == ("llama", "muon")
    out = run_cli("export", "--run", str(run), "--format", "gguf", "--out", "m.gguf",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    gguf = pytest.importorskip("gguf")
    field = gguf.GGUFReader(str(tmp_path / "m.gguf")).fields["general.architecture"]
    assert bytes(field.parts[-1]).decode() == "llama"


def test_a_repo_id_offline_and_not_cached_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    err = _one_line_exit_2(capsys, "import", "--hf", "HuggingFaceTB/SmolLM2-135M", "--out",
                           str(tmp_path / "run"))
    assert "not in the local Hugging Face cache" in err and "(option --hf)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
