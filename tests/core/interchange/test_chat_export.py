"""A chat run's template travels: transformers reads it from the exported folder and renders
our tokens; llama.cpp's keys are in the GGUF; an Ollama Modelfile sits beside every GGUF;
an imported model keeps its own template."""

from __future__ import annotations

import json
import shutil

import pytest

from lmstudio_app.core.data.chat_template import CHATML, IM_END, TEMPLATE_FILE
from lmstudio_app.core.data.chat_tokens import chat_ids
from lmstudio_app.core.inference.chat import chat_format_of
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.interchange.chat_export import OLLAMA_CHATML
from lmstudio_app.core.interchange.gguf_export import export_gguf
from lmstudio_app.core.interchange.hf_export import export_hf
from lmstudio_app.core.interchange.hf_import import import_hf
from tests.core.interchange.test_gguf_export import _field
from tests.interchange_fixtures import HF_MISSING

transformers = pytest.importorskip("transformers", reason=HF_MISSING)
gguf = pytest.importorskip("gguf", reason=HF_MISSING)

MESSAGES = [{"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What is the sentiment of: a sunny day"},
            {"role": "assistant", "content": "positive"},
            {"role": "user", "content": "And of: a cold soup"}]


def test_hf_export_carries_the_template_and_gives_our_tokens(sft_run, tmp_path):
    run = sft_run["sft"]
    out = export_hf(run, tmp_path / "hf").out
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["chat_template"] == CHATML
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert hf_tok.chat_template == CHATML
    loaded = load_run(run)
    fmt = chat_format_of(run, loaded.tokenizer)
    for prompt in (False, True):
        want = chat_ids(loaded.tokenizer, fmt.render(MESSAGES, add_generation_prompt=prompt))
        got = hf_tok.apply_chat_template(MESSAGES, tokenize=True, add_generation_prompt=prompt)
        if hasattr(got, "keys"):
            got = got["input_ids"]
        assert list(got) == want
    eot = loaded.tokenizer.piece_to_id(IM_END)
    generation = json.loads((out / "generation_config.json").read_text(encoding="utf-8"))
    assert eot in generation["eos_token_id"]


def test_gguf_has_the_template_and_a_modelfile_beside_it(sft_run, tmp_path):
    run = sft_run["sft"]
    result = export_gguf(run, tmp_path / "chat.gguf", dtype="f32")
    reader = gguf.GGUFReader(result.out)
    assert _field(reader, "tokenizer.chat_template") == CHATML
    tok = load_run(run).tokenizer
    eot = tok.piece_to_id(IM_END)
    assert _field(reader, "tokenizer.ggml.eot_token_id") == eot
    types = _field(reader, "tokenizer.ggml.token_type")
    assert types[eot] == types[eot - 1] == gguf.TokenType.CONTROL
    modelfile = (tmp_path / "Modelfile").read_text(encoding="utf-8")
    assert modelfile.splitlines()[0] == "FROM ./chat.gguf"
    assert f'TEMPLATE """{OLLAMA_CHATML}"""' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert any("Modelfile" in n for n in result.notes)


def test_ollama_template_renders_chatml_turns():
    # The Go template's text, with each message's fields put in, is ChatML with the generation
    # prompt (the Go template language's range over .Messages, written out by hand).
    body = OLLAMA_CHATML.removeprefix("{{- range .Messages }}")
    turn, tail = body.split("{{ end }}")
    rendered = "".join(turn.replace("{{ .Role }}", m["role"]).replace("{{ .Content }}",
                                                                       m["content"])
                       for m in MESSAGES) + tail
    from lmstudio_app.core.data.chat_template import render

    assert rendered == render(CHATML, MESSAGES, add_generation_prompt=True)


def test_a_base_run_gets_a_plain_modelfile(sft_run, tmp_path):
    export_gguf(sft_run["gpt"], tmp_path / "base.gguf", dtype="f32")
    reader = gguf.GGUFReader(tmp_path / "base.gguf")
    assert "tokenizer.chat_template" not in reader.fields
    modelfile = (tmp_path / "Modelfile").read_text(encoding="utf-8")
    assert modelfile == 'FROM ./base.gguf\nTEMPLATE """{{ .Prompt }}"""\nPARAMETER stop "</s>"\n'
    export_gguf(sft_run["sft"], tmp_path / "chat.gguf", dtype="f32")  # another file, same folder
    assert (tmp_path / "chat.Modelfile").read_text(encoding="utf-8").startswith(
        "FROM ./chat.gguf\n")


def test_an_imported_model_keeps_its_template(hf_gpt2, tmp_path):
    src = tmp_path / "gpt2"
    shutil.copytree(hf_gpt2, src)
    cfg_path = src / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["chat_template"] = CHATML
    cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
    (src / TEMPLATE_FILE).unlink(missing_ok=True)
    run = import_hf(src, tmp_path / "run").out
    assert (run / TEMPLATE_FILE).read_text(encoding="utf-8") == CHATML
