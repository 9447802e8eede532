"""Export to Hugging Face: transformers loads each kind of run, with our ids and our logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.predict import mask_input_ids
from lmstudio_app.core.interchange.hf_export import export_hf, hf_architecture
from lmstudio_app.core.interchange.hf_import import import_hf
from lmstudio_app.core.models.heads import reads_end_token
from lmstudio_app.core.objectives.encoding import classify_ids, pad_rows, qa_windows
from tests.interchange_fixtures import HF_MISSING, paragraph

transformers = pytest.importorskip("transformers", reason=HF_MISSING)

TEXTS = ["What a delightful evening it was, said Emma.", "The carriage broke down; we were\n"
         "stranded and miserable."]
AUTO = {"GPT2LMHeadModel": "AutoModelForCausalLM", "BertForMaskedLM": "AutoModelForMaskedLM",
        "GPT2ForSequenceClassification": "AutoModelForSequenceClassification",
        "BertForSequenceClassification": "AutoModelForSequenceClassification",
        "BertForQuestionAnswering": "AutoModelForQuestionAnswering",
        "GPT2ForQuestionAnswering": "AutoModelForQuestionAnswering"}
KINDS = {"gpt": "GPT2LMHeadModel", "bert": "BertForMaskedLM",
         "cls-gpt": "GPT2ForSequenceClassification", "cls-bert": "BertForSequenceClassification",
         "qa": "BertForQuestionAnswering", "qa-gpt": "GPT2ForQuestionAnswering"}


@pytest.fixture(scope="module")
def exported(tiny_runs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exported")
    out = {}
    for kind, run in tiny_runs.items():
        result = export_hf(run, root / kind)
        assert result.architecture == KINDS[kind] and result.bytes > 0
        out[kind] = result.out
    return out


def _ours_and_theirs(kind, run, folder, text):
    """Our logits and transformers' on the same inputs (a list of tensors each)."""
    ours = load_run(run)
    theirs = getattr(transformers, AUTO[KINDS[kind]]).from_pretrained(folder).eval()
    tok, arch = ours.tokenizer, ours.config.model.arch
    with torch.no_grad():
        if kind in ("gpt", "bert"):
            ids = tok.encode(text)[: ours.config.model.block_size - 2]
            if kind == "bert":
                ids = [tok.cls_id, *ids, tok.sep_id]
            x = torch.tensor([ids])
            return [ours.model(x)[0]], [theirs(input_ids=x).logits]
        if kind.startswith("qa"):
            w = qa_windows(tok, "Who walked to Meryton?", text, 64, 16)
            ids, mask = pad_rows([v.ids for v in w], tok.pad_id)
            types, _ = pad_rows([v.type_ids for v in w], 0)
            a = ours.model(ids, mask, types)
            if arch == "bert":
                b = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)
                return list(a), [b.start_logits, b.end_logits]
            # GPT-2 has no segments (its token_type_ids are word embeddings): ids and mask
            # only; the positions compared are the real ones (padding follows them).
            b = theirs(input_ids=ids, attention_mask=mask)
            real = mask.bool()
            return [x[real] for x in a], [b.start_logits[real], b.end_logits[real]]
        end = reads_end_token(ours.config)
        rows = [classify_ids(tok, t, arch, 64, end) for t in [text[:300], *TEXTS]]
        ids, mask = pad_rows(rows, tok.pad_id)
        return [ours.model(ids, mask)], [theirs(input_ids=ids, attention_mask=mask).logits]


@pytest.mark.parametrize("kind", list(KINDS))
def test_transformers_loads_each_kind_with_our_ids_and_logits(kind, tiny_runs, exported):
    folder, text = exported[kind], paragraph()
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == [KINDS[kind]]
    ours = load_run(tiny_runs[kind])
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    # The same ids on a real paragraph with line breaks; BERT kinds add [CLS] ... [SEP].
    assert hf_tok(text, add_special_tokens=False).input_ids == ours.tokenizer.encode(text)
    with_specials = hf_tok(TEXTS[0]).input_ids
    arch = ours.config.model.arch
    assert with_specials == classify_ids(ours.tokenizer, TEXTS[0], arch, 10_000,
                                         reads_end_token(ours.config))
    if kind == "cls-gpt":  # its head reads the end token the exported tokenizer appends
        assert with_specials[-1] == ours.tokenizer.eos_id
    for role in ("pad", "unk", "bos", "eos", "mask", "cls", "sep"):
        assert getattr(hf_tok, f"{role}_token_id") == getattr(ours.tokenizer, f"{role}_id")
    if "cls" in kind:
        assert config["id2label"] == {str(i): n for i, n in
                                      enumerate(ours.config.finetune.labels)}
    a, b = _ours_and_theirs(kind, tiny_runs[kind], folder, text)
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape
        torch.testing.assert_close(y, x, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind,task", [("gpt", "text-generation"), ("bert", "fill-mask"),
                                       ("cls-gpt", "text-classification"),
                                       ("cls-bert", "text-classification")])
def test_pipelines_produce_output(kind, task, exported, tiny_runs):
    pipe = transformers.pipeline(task, model=str(exported[kind]), device="cpu")
    if task == "text-generation":
        out = pipe("It is a truth universally", max_new_tokens=8, do_sample=False)
        assert out[0]["generated_text"].startswith("It is a truth universally")
        assert len(out[0]["generated_text"]) > len("It is a truth universally")
    elif task == "fill-mask":
        out = pipe("She was [MASK] to see him.", top_k=3)
        assert len(out) == 3 and all(0 <= o["score"] <= 1 for o in out)
    else:
        out = pipe(TEXTS[0])
        assert out[0]["label"] in load_run(tiny_runs[kind]).config.finetune.labels


def test_folders_carry_a_model_card_and_a_tokenizer_class_both_versions_know(exported,
                                                                             tiny_runs):
    tags = {"gpt": "text-generation", "bert": "fill-mask", "cls-gpt": "text-classification",
            "cls-bert": "text-classification", "qa": "question-answering",
            "qa-gpt": "question-answering"}
    for kind, folder in exported.items():
        meta = (folder / "README.md").read_text(encoding="utf-8").split("---\n")[1]
        assert "library_name: transformers\n" in meta and f"pipeline_tag: {tags[kind]}\n" in meta
        assert 'license: "other"' in meta
        config = json.loads((folder / "tokenizer_config.json").read_text())
        assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert 'datasets: ["austen.txt"]' in (exported["gpt"] / "README.md").read_text()
    meta = (exported["cls-gpt"] / "README.md").read_text()
    base = runs.read_config(tiny_runs["gpt"]).name
    assert f'base_model: "{base}"' in meta and 'datasets: ["sentiment.csv"]' in meta


def test_qa_pairs_offsets_and_words_follow_hugging_face(tiny_runs, exported):
    """BERT returns segments unasked; the GPT QA tokenizer builds the app's pair; offsets
    leave out a token's leading space and words split at spaces (run_qa.py relies on both)."""
    question, context = "Who walked?", "Elizabeth walked to Meryton  with Jane."
    for kind in ("qa", "qa-gpt"):
        tok = load_run(tiny_runs[kind]).tokenizer
        hf_tok = transformers.AutoTokenizer.from_pretrained(exported[kind])
        enc = hf_tok(question, context, return_offsets_mapping=True)
        assert ("token_type_ids" in enc) == (kind == "qa")
        window = qa_windows(tok, question, context, 64, 16)[0]
        assert enc["input_ids"] == window.ids
        spans = [context[a:b] for (a, b), s in zip(enc["offset_mapping"], enc.sequence_ids(),
                                                         strict=True)
                 if s == 1]
        assert spans[:3] == ["E", "l", "i"] or spans[0].startswith("E")
        assert all(not piece.startswith(" ") for piece in spans)
        words = enc.word_ids()
        # Elizabeth, walked, to, Meryton, with (its two spaces before it), Jane.
        assert len({w for w, s in zip(words, enc.sequence_ids(), strict=True) if s == 1}) == 6


def test_fill_mask_pipeline_reads_the_app_s_input(tiny_runs, exported):
    tok = load_run(tiny_runs["bert"]).tokenizer
    hf_tok = transformers.AutoTokenizer.from_pretrained(exported["bert"])
    text = "She was [MASK] to see him."
    assert hf_tok(text)["input_ids"] == mask_input_ids(tok, text)[0]


@pytest.mark.parametrize("kind", ["gpt", "bert"])
def test_export_then_import_gives_back_the_same_logits(kind, tiny_runs, exported, tmp_path):
    back = import_hf(exported[kind], tmp_path / "back").out
    ours, again = load_run(tiny_runs[kind]), load_run(back)
    assert again.tokenizer.backend == "tokenizers"
    text = paragraph()
    ids = ours.tokenizer.encode(text)[:60]
    assert again.tokenizer.encode(text)[:60] == ids
    x = torch.tensor([ids])
    with torch.no_grad():
        torch.testing.assert_close(again.model(x)[0], ours.model(x)[0], atol=1e-5, rtol=0)


def test_mean_pooling_is_refused_with_the_fix_and_nothing_is_written(tiny_runs, tmp_path):
    cfg = runs.read_config(tiny_runs["cls-gpt"])
    cfg.finetune.pooling = "mean"
    with pytest.raises(UserError, match="pooling=mean has no Hugging Face equivalent") as err:
        hf_architecture(cfg)
    assert err.value.field == "pooling" and err.value.option == "eos"
    cfg.model.arch, cfg.finetune.pooling = "bert", "last"
    with pytest.raises(UserError, match="BertForSequenceClassification reads \\[CLS\\]"):
        hf_architecture(cfg)


def test_export_refuses_an_existing_destination_and_leaves_no_partial(tiny_runs, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists") as err:
        export_hf(tiny_runs["gpt"], taken)
    assert err.value.field == "out"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
