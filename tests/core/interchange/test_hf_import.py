"""Import from Hugging Face: transformers' own tiny GPT-2 and BERT become runs with the same
logits, which chat, fill-mask, classify, QA and fine-tuning use; bad folders are refused."""

from __future__ import annotations

import json
import pickle
import shutil
import unicodedata
from pathlib import Path

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig
from lmstudio_app.core.data import labeled
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.predict import answer, classify, fill_mask
from lmstudio_app.core.interchange.hf_export import export_hf
from lmstudio_app.core.interchange.hf_import import import_hf
from lmstudio_app.core.models.generate import generate
from lmstudio_app.core.objectives.encoding import classify_ids
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.interchange_fixtures import HF_MISSING, paragraph

transformers = pytest.importorskip("transformers", reason=HF_MISSING)


@pytest.fixture(scope="module")
def imported(hf_gpt2, hf_bert, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("imported")
    return {"gpt2": import_hf(hf_gpt2, root / "gpt2").out,
            "bert": import_hf(hf_bert, root / "bert").out}


@pytest.mark.parametrize("name,auto", [("gpt2", "AutoModelForCausalLM"),
                                       ("bert", "AutoModelForMaskedLM")])
def test_logits_equal_transformers_on_real_text(name, auto, imported, hf_gpt2, hf_bert):
    src = hf_gpt2 if name == "gpt2" else hf_bert
    loaded = load_run(imported[name])
    cfg = json.loads((imported[name] / runs.CONFIG).read_text())
    assert cfg["data"]["tokenizer_backend"] == "tokenizers"
    assert cfg["run"]["objective"] == ("clm" if name == "gpt2" else "mlm")
    assert cfg["run"]["model"]["activation"] == ("gelu_new" if name == "gpt2" else "gelu")
    text = paragraph()
    hf_tok = transformers.AutoTokenizer.from_pretrained(src)
    ids = hf_tok(text, add_special_tokens=name == "bert").input_ids[:120]
    if name == "bert":
        assert ids[1:20] == loaded.tokenizer.encode(text)[:19]
        assert ids[0] == loaded.tokenizer.cls_id
    else:
        assert ids == loaded.tokenizer.encode(text)[:120]
    theirs = getattr(transformers, auto).from_pretrained(src).eval()
    x = torch.tensor([ids])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)[0], theirs(input_ids=x).logits,
                                   atol=1e-4, rtol=0)


def test_imported_runs_chat_and_fill_mask(imported):
    gpt = load_run(imported["gpt2"])
    pieces = list(generate(gpt.model, gpt.tokenizer, "It is a truth", max_new_tokens=12,
                           seed=1, stop_at_eos=False))
    assert pieces and len("".join(pieces)) > 0
    bert = load_run(imported["bert"])
    top = fill_mask(bert.model, bert.tokenizer, "She was [MASK] to see him.", top_k=4)
    assert len(top) == 4 and not any(p in ("[PAD]", "[CLS]", "[SEP]", "[MASK]") for p, _ in top)


def test_offsets_come_from_the_tokenizer(imported):
    tok = load_run(imported["bert"]).tokenizer
    text = "Elizabeth  Bennet walked to MERYTON, café!"
    ids, spans = tok.char_spans(text)
    assert ids == tok.encode(text)
    # WordPiece lower-cases and strips accents: the spans still point at the original text.
    pieces = [text[s:e] for s, e in spans]
    assert "".join(pieces) == "".join(text.split())
    for i, piece in zip(ids, pieces, strict=True):
        token = tok.id_to_piece(i).removeprefix("##")
        plain = unicodedata.normalize("NFD", piece.lower())
        assert token in ("[UNK]", "".join(c for c in plain if not unicodedata.combining(c)))


def _finetune(out: Path, **fields) -> Path:
    over = {"max_steps": 4, "eval_interval": 2, "batch_size": 4, "log_interval": 2,
            "learning_rate": 1e-3}
    cfg = make_finetune_config(FinetuneConfig(**fields), overrides=over)
    sink = RecordingSink()
    assert Trainer(cfg, out, sink).run().reason == "completed", sink.failure
    return out


def test_fine_tuning_imported_models_end_to_end(imported, tmp_path):
    sentiment, qa = str(labeled.sample_sentiment_path()), str(labeled.sample_qa_path())
    cls = _finetune(tmp_path / "cls", task="classify", train_file=sentiment,
                    base_run=str(imported["gpt2"]), pooling="eos")
    assert (cls / "tokenizer.json").is_file() and not (cls / "tokenizer.model").is_file()
    cfg = json.loads((cls / runs.CONFIG).read_text())
    assert cfg["data"]["tokenizer_backend"] == "tokenizers"
    result = classify(load_run(cls), ["What a lovely day.", "It broke."])
    assert {r["label"] for r in result} <= {"negative", "neutral", "positive"}
    # Exported again, its own (byte-level) tokenizer appends the end token the head reads.
    folder = export_hf(cls, tmp_path / "cls-hf").out
    text, loaded = "What a lovely day.", load_run(cls)
    ids = transformers.AutoTokenizer.from_pretrained(folder)(text).input_ids
    assert ids == classify_ids(loaded.tokenizer, text, "gpt", 10_000, end_token=True)
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        x = torch.tensor([ids])
        torch.testing.assert_close(theirs(input_ids=x).logits,
                                   loaded.model(x, torch.ones_like(x)), atol=1e-4, rtol=0)
    ext = _finetune(tmp_path / "qa", task="qa-extractive", train_file=qa,
                    base_run=str(imported["bert"]))
    context = "Elizabeth Bennet lives at Longbourn, near Meryton."
    got = answer(load_run(ext), "Where does Elizabeth live?", context)
    assert got["answer"] == context[got["start"]:got["end"]].strip()


# ---------------------------------------------------------------------------------------------
# Bad input: one UserError naming the field, nothing written


def _refused(src: Path, out: Path, match: str) -> UserError:
    with pytest.raises(UserError, match=match) as err:
        import_hf(src, out)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    return err.value


def test_not_a_model_folder(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hello")
    _refused(tmp_path / "notes", tmp_path / "run", "not a Hugging Face model folder")
    _refused(tmp_path / "missing", tmp_path / "run", "no such folder")


def test_missing_tokenizer(hf_gpt2, tmp_path):
    src = tmp_path / "gpt2"
    shutil.copytree(hf_gpt2, src)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (src / name).unlink()
    _refused(src, tmp_path / "run", "no tokenizer")


@pytest.mark.parametrize("key,value,field", [
    ("activation_function", "relu", "activation_function"),
    ("n_inner", 100, "n_inner"),
    ("layer_norm_epsilon", 1e-6, "layer_norm_epsilon"),
    ("model_type", "gpt_neox", "model_type"),
    ("rotary_dim", 8, "rotary_dim"),
    ("architectures", ["GPT2ForSequenceClassification"], "architectures"),
])
def test_unsupported_architecture_or_option_names_the_field(hf_gpt2, tmp_path, key, value,
                                                            field):
    src = tmp_path / "gpt2"
    shutil.copytree(hf_gpt2, src)
    cfg = json.loads((src / "config.json").read_text())
    cfg[key] = value
    (src / "config.json").write_text(json.dumps(cfg))
    err = _refused(src, tmp_path / "run", f"{key}=.* is not supported")
    assert err.field == field


class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_pickled_bin_with_code_is_refused(hf_gpt2, tmp_path, capsys):
    from safetensors.torch import load_file

    src = tmp_path / "gpt2"
    shutil.copytree(hf_gpt2, src)
    state = load_file(str(src / "model.safetensors"))
    (src / "model.safetensors").unlink()
    torch.save({**state, "extra": _Payload()}, src / "pytorch_model.bin")
    _refused(src, tmp_path / "run", "refused. It carries pickled Python objects")
    assert "this ran" not in capsys.readouterr().out
    # The same weights as plain tensors in a .bin are accepted.
    torch.save(state, src / "pytorch_model.bin")
    loaded = load_run(import_hf(src, tmp_path / "run").out)
    assert loaded.config.model.n_layer == 2
    assert pickle.loads(pickle.dumps(loaded.tokenizer)).sha256 == loaded.tokenizer.sha256


def test_an_untied_output_matrix_is_refused(hf_gpt2, tmp_path):
    from safetensors.torch import load_file, save_file

    src = tmp_path / "gpt2"
    shutil.copytree(hf_gpt2, src)
    state = load_file(str(src / "model.safetensors"))
    state["lm_head.weight"] = torch.randn_like(state["transformer.wte.weight"])
    save_file(state, str(src / "model.safetensors"))
    assert _refused(src, tmp_path / "run", "not tied").field == "tie_word_embeddings"
