"""The client suite (`make test-interop`): exports run through the real clients, on real text.

    transformers 5   the project's environment          (this interpreter, in a subprocess)
    transformers 4   .interop/tf4  (LMSTUDIO_TF4_PYTHON)   made by `make test-interop`
    llama.cpp        .interop/llama (LMSTUDIO_LLAMA_PYTHON) llama-cpp-python built there

Each client runs a script of clients/ that imports nothing of the app; the app's own answers
are computed here and compared: token ids on the bundled corpus, logits, greedy text,
classifier probabilities (batched, through the pipeline), QA answers through run_qa.py's
post-processing, fill-mask through the pipeline, quantized GGUF files loading and generating.
Slow-marked; a client whose environment is missing is skipped with how to build it. The
table of results goes to .interop/client-table.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.predict import (
    answer,
    classify,
    fill_mask,
    mask_input_ids,
    readable_piece,
)
from lmstudio_app.core.interchange.gguf_export import export_gguf
from lmstudio_app.core.interchange.hf_export import export_hf
from tests.core.conftest import ODD_TEXT
from tests.core.interchange.client_runs import (
    PROMPT,
    QA,
    TEXTS,
    corpus_lines,
    greedy_ids,
    make_client_runs,
)

pytestmark = pytest.mark.slow
pytest.importorskip("transformers")
pytest.importorskip("gguf")

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = Path(__file__).with_name("clients")
INTEROP = ROOT / ".interop"
TF4 = Path(os.environ.get("LMSTUDIO_TF4_PYTHON", INTEROP / "tf4" / "bin" / "python"))
LLAMA = Path(os.environ.get("LMSTUDIO_LLAMA_PYTHON", INTEROP / "llama" / "bin" / "python"))
HF_CLIENTS = {"transformers 5": Path(sys.executable), "transformers 4": TF4}
NEW_TOKENS = 16
# Spaces, tabs, accents, emoji, CJK; not the line spelling special pieces, which clients read
# as those tokens (transformers always, llama.cpp with parse_special) and the app as text.
ODD = "\n".join(line for line in ODD_TEXT.split("\n") if "[MASK]" not in line)
TABLE: list[tuple[str, str, str]] = []


def _row(client: str, check: str, result: str) -> None:
    TABLE.append((client, check, result))
    INTEROP.mkdir(exist_ok=True)
    lines = ["| client | check | result |", "| --- | --- | --- |"]
    lines += [f"| {c} | {k} | {r} |" for c, k, r in TABLE]
    (INTEROP / "client-table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _client(python: Path, script: str, job: dict, tmp: Path) -> dict:
    if not python.exists():
        pytest.skip(f"{python} is missing: `make test-interop` builds it")
    (tmp / "job.json").write_text(json.dumps(job), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), str(CLIENTS / script), str(tmp / "job.json"),
                           str(tmp / "out.json")], capture_output=True, text=True,
                          timeout=1800, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((tmp / "out.json").read_text(encoding="utf-8"))
    errors = {k: v["error"] for k, v in out.items() if isinstance(v, dict) and "error" in v}
    assert not errors, errors
    return out


@pytest.fixture(scope="module")
def client_runs(prepared_data, hf_gpt2, tmp_path_factory) -> dict[str, Path]:
    return make_client_runs(prepared_data, hf_gpt2, tmp_path_factory.mktemp("client-runs"))


# --- transformers -------------------------------------------------------------------------

HF_TASKS = {"gpt": "lm", "gpt-bpe": "lm", "gpt2": "lm", "bert": "mlm", "cls-gpt": "cls",
            "cls-bert": "cls", "cls-gpt2": "cls", "qa": "qa", "qa-gpt": "qa"}
MASK_TEXTS = ["She was [MASK] to see him.", "It is a truth universally [MASK], that a man."]


def _hf_job(kind: str, folder: Path, run: Path) -> dict:
    loaded = load_run(run)
    tok = loaded.tokenizer
    job = {"folder": str(folder), "task": HF_TASKS[kind], "texts": [*TEXTS, ODD]}
    if job["task"] == "lm":
        job.update(logit_ids=tok.encode(TEXTS[0])[:48], prompt_ids=tok.encode(PROMPT),
                   prompt_text=PROMPT, new_tokens=NEW_TOKENS)
    elif job["task"] == "mlm":
        job.update(mask_texts=MASK_TEXTS, top_k=loaded.config.model.vocab_size)
    elif job["task"] == "qa":
        ft, length = loaded.config.finetune, loaded.config.model.block_size
        # The overlap the app uses: its stride, at most half of what the context gets.
        budget = min(length - len(tok.encode(q)) - 3 for q, _ in QA)
        job.update(qa=[{"question": q, "context": c} for q, c in QA], max_length=length,
                   stride=min(ft.stride, budget // 2))
    return job


@pytest.fixture(scope="module")
def hf_exports(client_runs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf-exports")
    return {kind: export_hf(client_runs[kind], root / kind).out for kind in HF_TASKS}


def _check_tokens(kind, got, loaded) -> None:
    tok = loaded.tokenizer
    assert got["ids"] == [tok.encode(t) for t in [*TEXTS, ODD]], kind
    bert = loaded.config.model.arch == "bert"
    assert ("token_type_ids" in got["keys"]) == bert, (kind, got["keys"])
    # transformers 5 names its fast tokenizers TokenizersBackend.
    assert got["tokenizer_class"] in ("PreTrainedTokenizerFast", "TokenizersBackend")


def _check_lm(kind, got, loaded) -> tuple[str, str, bool]:
    tok = loaded.tokenizer
    ids = tok.encode(TEXTS[0])[:48]
    with torch.no_grad():
        ours = loaded.model(torch.tensor([ids]))[0][0]
    diff = float((torch.tensor(got["logits"]) - ours).abs().max())
    app = greedy_ids(loaded, tok.encode(PROMPT), NEW_TOKENS)
    same = got["greedy"] == app
    text = got["pipeline_text"] == PROMPT + tok.decode(app)
    return (f"{kind}: ids, logits, greedy {NEW_TOKENS} tokens (generate, pipeline)",
            f"ids equal; max abs logit diff {diff:.1e}; greedy ids "
            f"{'equal' if same else 'DIFFER'}, pipeline text {'equal' if text else 'DIFFERS'}",
            diff < 1e-4 and same and text)


def _check_mlm(kind, got, loaded) -> tuple[str, str, bool]:
    tok = loaded.tokenizer
    worst, same = 0.0, True
    for text, theirs, ids in zip(MASK_TEXTS, got["fill"], got["mask_ids"], strict=True):
        ours = fill_mask(loaded.model, tok, text, top_k=5)
        kept = [(i, p) for i, p in theirs if i not in tok.special_ids][:5]
        total = sum(p for i, p in theirs if i not in tok.special_ids)
        same &= [readable_piece(tok, i) for i, _ in kept] == [piece for piece, _ in ours]
        same &= ids == mask_input_ids(tok, text)[0]
        worst = max(worst, *(abs(p / total - q) for (_, p), (_, q) in
                             zip(kept, ours, strict=True)))
    return (f"{kind}: fill-mask pipeline (input ids, top 5, probabilities without specials)",
            f"{'equal' if same else 'DIFFER'}; max abs probability diff {worst:.1e}",
            same and worst < 1e-5)


def _check_cls(kind, got, loaded) -> tuple[str, str, bool]:
    ours = classify(loaded, [*TEXTS, ODD])
    worst = 0.0
    labels = loaded.config.finetune.labels
    for mine, theirs, batched in zip(ours, got["probs"], got["batched_probs"], strict=True):
        for k, label in enumerate(labels):
            worst = max(worst, abs(mine["probabilities"][label] - theirs[label]),
                        abs(mine["probabilities"][label] - batched[k]))
    pad = got["pad_token_id"] is not None
    return (f"{kind}: probabilities, pipeline and a padded batch of 3",
            f"max abs diff {worst:.1e}; pad id {got['pad_token_id']}", pad and worst < 1e-5)


def _check_qa(kind, got, loaded) -> tuple[str, str, bool]:
    """run_qa.py looks only at the 20 likeliest starts and ends: where the app's answer is
    among its candidates, it must be the one chosen."""
    mine = [answer(loaded, q, c)["answer"] for q, c in QA]
    same = sum(a == b for a, b in zip(mine, got["answers"], strict=True))
    outside = sum(a not in c for a, c in zip(mine, got["candidates"], strict=True))
    return (f"{kind}: answers through run_qa.py's post-processing",
            f"{same} of {len(QA)} equal, {outside} outside its 20-best starts/ends "
            f"({got['n_features']} windows; model inputs {', '.join(got['input_names'])})",
            same + outside == len(QA))


CHECKS = {"lm": _check_lm, "mlm": _check_mlm, "cls": _check_cls, "qa": _check_qa}


@pytest.mark.parametrize("client", list(HF_CLIENTS))
def test_transformers_agrees_with_the_app(client, client_runs, hf_exports, tmp_path):
    jobs = {kind: _hf_job(kind, hf_exports[kind], client_runs[kind]) for kind in HF_TASKS}
    out = _client(HF_CLIENTS[client], "hf_client.py", jobs, tmp_path)
    name = f"{client} ({out['transformers']})"
    failures = []
    for kind, task in HF_TASKS.items():
        loaded = load_run(client_runs[kind])
        _check_tokens(kind, out[kind], loaded)
        check, result, ok = CHECKS[task](kind, out[kind], loaded)
        _row(name, check, result)
        failures += [] if ok else [kind]
    assert not failures, failures


# --- llama.cpp ----------------------------------------------------------------------------

GGUF_KINDS = ("gpt", "gpt-bpe", "gpt-char", "gpt2")  # exported f32: exact agreement expected
QUANTIZED = ("f16", "q8_0", "q4_0")  # of the unigram GPT: loading, generating, logit error


@pytest.fixture(scope="module")
def gguf_exports(client_runs, tmp_path_factory) -> dict[str, tuple[str, Path]]:
    """File name -> (run kind, GGUF file)."""
    root = tmp_path_factory.mktemp("gguf-exports")
    out = {kind: (kind, export_gguf(client_runs[kind], root / f"{kind}.gguf", dtype="f32").out)
           for kind in GGUF_KINDS}
    for dtype in QUANTIZED:
        out[f"gpt {dtype}"] = ("gpt", export_gguf(client_runs["gpt"], root / f"{dtype}.gguf",
                                                  dtype=dtype).out)
    return out


def _texts() -> list[str]:
    """300 lines of an unseen novel and the odd text (a literal U+2581, which a unigram GGUF
    reads otherwise, as the README says, is left to the transformers checks)."""
    return [*corpus_lines(300), ODD, "----  ......   !!!!"]


def _llama_job(path: Path, loaded, texts: list[str]) -> dict:
    tok = loaded.tokenizer
    return {"path": str(path), "texts": texts, "decode_ids": [tok.encode(t) for t in texts[-2:]],
            "logit_ids": tok.encode(texts[0] + " " + texts[1])[:48],
            "prompt_ids": tok.encode(PROMPT), "prompt_text": PROMPT, "new_tokens": NEW_TOKENS,
            "n_ctx": loaded.config.model.max_positions}


def _runs_reordered(tok, a: list[int], b: list[int]) -> bool:
    """Whether ids `a` and `b` differ only in the order of pieces within runs of one repeated
    character (what the README allows for unigram tokenizers)."""
    def runs(ids):
        out, run = [], []
        for i in ids:
            piece = tok.id_to_piece(i)
            if len(set(piece)) == 1 and (not run or tok.id_to_piece(run[-1])[0] == piece[0]):
                run.append(i)
                continue
            out += [tuple(sorted(run))] if run else []
            run = [i] if len(set(piece)) == 1 else []
            out += [] if run else [(i,)]
        return out + ([tuple(sorted(run))] if run else [])
    return runs(a) == runs(b)


def _llama_rows(name: str, job: dict, got: dict, loaded, reference: np.ndarray) -> bool:
    """Table rows for one file; whether it agrees as promised (ids, text, greedy)."""
    tok, texts = loaded.tokenizer, job["texts"]
    want = [tok.encode(t) for t in texts]
    same = sum(a == b for a, b in zip(got["ids"], want, strict=True))
    reordered = sum(a != b and _runs_reordered(tok, a, b)
                    for a, b in zip(got["ids"], want, strict=True))
    decoded = got["decoded"] == [tok.decode(ids) for ids in job["decode_ids"]]
    with torch.no_grad():
        ours = loaded.model(torch.tensor([job["logit_ids"]]))[0][0].numpy()
    logits = np.array(got["logits"])
    diff, vs_f32 = float(np.abs(logits - ours).max()), float(np.abs(logits - reference).max())
    app_greedy = greedy_ids(loaded, job["prompt_ids"], NEW_TOKENS)
    # A completion stops at the end token, as llama.cpp's does.
    until_end = app_greedy[:app_greedy.index(tok.eos_id)] if tok.eos_id in app_greedy \
        else app_greedy
    # llama-cpp-python drops the bytes of an incomplete character where decoding writes U+FFFD.
    text = tok.decode(until_end)
    greedy = got["greedy"] == app_greedy
    completion = got["completion"] in (text, text.replace("\ufffd", ""))
    size = Path(job["path"]).stat().st_size / 1e6
    _row("llama.cpp", f"{name} ({tok.kind}): token ids, decoding",
         f"{same} of {len(texts)} texts equal, {reordered} with a run's pieces reordered; "
         f"decoding {'equal' if decoded else 'DIFFERS'}")
    _row("llama.cpp", f"{name}: logits, greedy {NEW_TOKENS} tokens, completion of a prompt",
         f"max abs logit diff {diff:.1e} (to the f32 file {vs_f32:.1e}), {size:.2f} MB; greedy "
         f"{'equal' if greedy else 'differs'}; completion {'equal' if completion else 'differs'}")
    # Completion text is required where the model's pieces decode to whole characters (a
    # random byte-level GPT-2 emits stray bytes, which llama-cpp-python's streaming drops).
    exact = name in GGUF_KINDS
    completion = completion or tok.kind == "byte-level-bpe"
    allowed = reordered if tok.kind == "unigram" else 0
    return same + allowed == len(texts) and decoded and (not exact or (greedy and completion))


def test_llama_cpp_agrees_with_the_app(client_runs, gguf_exports, tmp_path):
    texts = _texts()
    loaded = {kind: load_run(client_runs[kind]) for kind in GGUF_KINDS}
    jobs = {name: _llama_job(path, loaded[kind], texts)
            for name, (kind, path) in gguf_exports.items()}
    out = _client(LLAMA, "llama_client.py", jobs, tmp_path)
    failures = []
    for name, (kind, _) in gguf_exports.items():
        reference = np.array(out[kind]["logits"])
        if not _llama_rows(name, jobs[name], out[name], loaded[kind], reference):
            failures.append(name)
    assert not failures, failures
