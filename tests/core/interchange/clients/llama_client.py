"""Runs GGUF exports through llama.cpp (llama-cpp-python) as its users would:
`python llama_client.py job.json out.json`. It imports nothing of the app.

For each file: llama.cpp's own token ids for each text (no BOS, special pieces not parsed, as
a plain prompt), the text it decodes the app's ids to, the logits for given ids, a greedy
continuation of given ids (argmax at each step) and a greedy completion of a prompt text
(tokenized by llama.cpp, temperature 0).
"""

from __future__ import annotations

import sys

import numpy as np
from job_runner import run_jobs
from llama_cpp import Llama


def _tokens(path, job):
    vocab = Llama(model_path=path, vocab_only=True, verbose=False)
    ids = [vocab.tokenize(t.encode("utf-8"), add_bos=False, special=False) for t in job["texts"]]
    decoded = [vocab.detokenize(i).decode("utf-8", errors="replace") for i in job["decode_ids"]]
    return {"ids": ids, "decoded": decoded}


def _model(path, job):
    n_ctx = job["n_ctx"]
    llm = Llama(model_path=path, n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, verbose=False,
                n_threads=2, seed=0)
    llm.eval(job["logit_ids"])
    logits = np.array(llm.scores[: len(job["logit_ids"])], dtype=np.float32)
    llm.reset()
    llm.eval(job["prompt_ids"])
    greedy = []
    for _ in range(job["new_tokens"]):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        greedy.append(nxt)
        llm.eval([nxt])
    llm.reset()
    done = llm(job["prompt_text"], max_tokens=job["new_tokens"], temperature=0.0, top_k=1)
    return {"logits": logits.tolist(), "greedy": greedy, "completion": done["choices"][0]["text"]}


def _run(job):
    row = _tokens(job["path"], job)
    if job.get("logit_ids"):
        row.update(_model(job["path"], job))
    return row


def main(job_path, out_path):
    run_jobs(job_path, out_path, _run, {})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
