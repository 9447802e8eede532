"""Runs an export through transformers as its users would, in whatever environment runs it
(transformers 4.x or 5.x): `python hf_client.py job.json out.json`. It imports nothing of the
app. The job names the export folder and the inputs; the output holds what transformers gave.

Extractive QA goes through the post-processing of transformers' examples/pytorch/
question-answering (prepare_validation_features in run_qa.py, postprocess_qa_predictions in
utils_qa.py), restated here without its datasets dependency.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from job_runner import run_jobs  # noqa: E402

N_BEST = 20  # run_qa.py's defaults
MAX_ANSWER_LENGTH = 30


def _tokenizer_report(tok, texts):
    return {"ids": [tok(t, add_special_tokens=False)["input_ids"] for t in texts],
            "ids_special": [tok(t)["input_ids"] for t in texts],
            "keys": sorted(tok(texts[0]).keys()),
            "pad_token_id": tok.pad_token_id}


def _lm(folder, job):
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    out = {}
    with torch.no_grad():
        ids = torch.tensor([job["logit_ids"]])
        out["logits"] = model(input_ids=ids).logits[0].tolist()
        prompt = torch.tensor([job["prompt_ids"]])
        gen = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                             max_new_tokens=job["new_tokens"],
                             pad_token_id=model.config.eos_token_id)
        out["greedy"] = gen[0, prompt.shape[1]:].tolist()
    pipe = transformers.pipeline("text-generation", model=folder, device="cpu")
    text = pipe(job["prompt_text"], max_new_tokens=job["new_tokens"], do_sample=False)
    out["pipeline_text"] = text[0]["generated_text"]
    return out


def _mlm(folder, job):
    pipe = transformers.pipeline("fill-mask", model=folder, device="cpu")
    fills = []
    for text in job["mask_texts"]:
        got = pipe(text, top_k=job["top_k"])
        fills.append([[int(g["token"]), float(g["score"])] for g in got])
    tok = pipe.tokenizer
    return {"fill": fills, "mask_ids": [tok(t)["input_ids"] for t in job["mask_texts"]]}


def _cls(folder, job):
    pipe = transformers.pipeline("text-classification", model=folder, device="cpu", top_k=None)
    batched = pipe(job["texts"], batch_size=len(job["texts"]), truncation=True)
    probs = [{d["label"]: float(d["score"]) for d in row} for row in batched]
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = pipe.tokenizer
    enc = tok(job["texts"], padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    return {"probs": probs, "batched_probs": torch.softmax(logits, -1).tolist()}


def _features(tok, questions, contexts, max_length, stride):
    """run_qa.py's prepare_validation_features."""
    pad_on_right = tok.padding_side == "right"
    enc = tok(questions if pad_on_right else contexts, contexts if pad_on_right else questions,
              truncation="only_second" if pad_on_right else "only_first",
              max_length=max_length, stride=stride, return_overflowing_tokens=True,
              return_offsets_mapping=True, padding="max_length")
    sample = enc.pop("overflow_to_sample_mapping")
    enc["example_id"] = []
    for i in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(i)
        context_index = 1 if pad_on_right else 0
        enc["example_id"].append(sample[i])
        enc["offset_mapping"][i] = [o if seq[k] == context_index else None
                                    for k, o in enumerate(enc["offset_mapping"][i])]
    return enc


def _postprocess(contexts, enc, start_logits, end_logits):
    """utils_qa.py's postprocess_qa_predictions (version_2_with_negative False): for each
    example its n-best candidates' texts, best first (the first is the prediction)."""
    answers = []
    for example, context in enumerate(contexts):
        preds = []
        for f, ex in enumerate(enc["example_id"]):
            if ex != example:
                continue
            s, e, offsets = start_logits[f], end_logits[f], enc["offset_mapping"][f]
            for i in np.argsort(s)[-1: -N_BEST - 1: -1].tolist():
                for j in np.argsort(e)[-1: -N_BEST - 1: -1].tolist():
                    if i >= len(offsets) or j >= len(offsets) or offsets[i] is None \
                            or offsets[j] is None or len(offsets[i]) < 2 or len(offsets[j]) < 2:
                        continue
                    if j < i or j - i + 1 > MAX_ANSWER_LENGTH:
                        continue
                    preds.append((float(s[i] + e[j]), offsets[i][0], offsets[j][1]))
        preds.sort(reverse=True)
        answers.append([[score, context[a:b]] for score, a, b in preds] or [[0.0, ""]])
    return answers


def _qa(folder, job):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    questions = [q["question"] for q in job["qa"]]
    contexts = [q["context"] for q in job["qa"]]
    enc = _features(tok, questions, contexts, job["max_length"], job["stride"])
    inputs = {k: torch.tensor(enc[k]) for k in tok.model_input_names if k in enc}
    with torch.no_grad():
        out = model(**inputs)
    answers = _postprocess(contexts, enc, out.start_logits.numpy(), out.end_logits.numpy())
    pairs = [tok(q, c)["input_ids"] for q, c in zip(questions, contexts, strict=True)]
    word_ids = tok(contexts[0]).word_ids()
    return {"answers": [c[0][1] for c in answers],
            "candidates": [[t for _, t in c] for c in answers], "pair_ids": pairs,
            "n_features": len(enc["input_ids"]),
            "input_names": sorted(inputs), "distinct_words": len(set(word_ids) - {None})}


TASKS = {"lm": _lm, "mlm": _mlm, "cls": _cls, "qa": _qa}


def _run(job):
    folder = job["folder"]
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    row = {"tokenizer_class": type(tok).__name__, **_tokenizer_report(tok, job["texts"])}
    row.update(TASKS[job["task"]](folder, job))
    return row


def main(job_path, out_path):
    run_jobs(job_path, out_path, _run, {"transformers": transformers.__version__})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
