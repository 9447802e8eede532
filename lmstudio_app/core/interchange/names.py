"""Parameter names between our GPT / BERT and Hugging Face's GPT-2 / BERT (transformers).

Our models keep GPT-2's and BERT's own names, so the mapping is a prefix and, for GPT-2, a
transpose: transformers' GPT-2 stores its four projections as `Conv1D` (weight (in, out)),
ours as `nn.Linear` (weight (out, in)). Everything else is copied by name.

    ours                                  transformers
    transformer.h.N.attn.c_attn.weight    transformer.h.N.attn.c_attn.weight, transposed
    lm_head.weight                        tied to transformer.wte.weight (not stored)
    embeddings.*, encoder.*               bert.embeddings.*, bert.encoder.*
    cls.predictions.*                     cls.predictions.* (decoder tied, decoder.bias = bias)
    body.* / head.* (task models)         see hf_export.py and hf_import.py
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

GPT_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight",
              ".mlp.c_proj.weight")
GPT_PREFIX = "transformer."
BERT_PREFIX = "bert."
BERT_BODY = ("embeddings.", "encoder.")
BERT_MLM_HEAD = "cls.predictions."
# Buffers and heads in Hugging Face files that carry nothing our models hold.
_GPT_BUFFERS = (".attn.bias", ".attn.masked_bias", ".crossattention.bias")
_BERT_BUFFERS = ("embeddings.position_ids",)


def gpt_to_hf(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our GPT's weights as GPT2Model's under `transformer.` (lm_head left to the tie)."""
    out = {}
    for name, value in state.items():
        if not name.startswith(GPT_PREFIX):
            continue  # lm_head.weight is transformer.wte.weight
        out[name] = value.t().contiguous() if name.endswith(GPT_CONV1D) else value
    return out


def gpt_from_hf(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A GPT-2 file's weights (with or without the `transformer.` prefix) under our names.

    `lm_head.weight` is kept when present, so the caller can check it is the tied matrix;
    other heads (`score.*`, ...) are left out.
    """
    out = {}
    for name, value in state.items():
        if name.endswith(_GPT_BUFFERS):
            continue
        if name == "lm_head.weight":
            out[name] = value
            continue
        bare = name.removeprefix(GPT_PREFIX)
        if not bare.startswith(("wte.", "wpe.", "h.", "ln_f.")):
            continue
        key = GPT_PREFIX + bare
        out[key] = value.t().contiguous() if key.endswith(GPT_CONV1D) else value
    return out


def bert_to_hf(state: Mapping[str, Tensor], with_mlm_head: bool) -> dict[str, Tensor]:
    """Our BERT's weights under `bert.` (and `cls.predictions.*` when `with_mlm_head`)."""
    out = {}
    for name, value in state.items():
        if name.startswith(BERT_BODY):
            out[BERT_PREFIX + name] = value
        elif with_mlm_head and name.startswith(BERT_MLM_HEAD) and name != \
                "cls.predictions.decoder.weight":  # tied to the word embeddings
            out[name] = value
    return out


def _modern(name: str) -> str:
    """Old TensorFlow-era LayerNorm names (gamma, beta) as torch's (weight, bias)."""
    if name.endswith("LayerNorm.gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith("LayerNorm.beta"):
        return name[: -len("beta")] + "bias"
    return name


def bert_from_hf(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A BERT file's body (with or without `bert.`) and masked-LM head under our names.

    The pooler, the next-sentence head and task heads are left out; `cls.predictions.decoder.
    weight` is kept when present so the caller can check the tie.
    """
    out = {}
    for name, value in state.items():
        name = _modern(name)
        if name.endswith(_BERT_BUFFERS):
            continue
        if name.startswith(BERT_MLM_HEAD):
            if name == "cls.predictions.decoder.bias":
                continue  # the same tensor as cls.predictions.bias
            out[name] = value
            continue
        bare = name.removeprefix(BERT_PREFIX)
        if bare.startswith(BERT_BODY):
            out[bare] = value
    return out
