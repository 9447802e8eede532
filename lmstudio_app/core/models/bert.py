"""A BERT-style encoder: post-LayerNorm layers, BERT's parameter names, a tied MLM head.

The names (embeddings.word_embeddings, encoder.layer.N.attention.self.query, ...,
cls.predictions.decoder) are those of the Hugging Face BERT so weights copy over by name.
Attention goes through scaled_dot_product_attention; without an attention mask no mask tensor
is built at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .checkpointing import run_blocks
from .init import gelu_approximation, init_weights

LN_EPS = 1e-12  # BERT's LayerNorm epsilon, kept so imported weights behave the same


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.n_embd)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.n_embd)
        self.LayerNorm = nn.LayerNorm(cfg.n_embd, eps=LN_EPS, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None) -> Tensor:
        T = input_ids.shape[1]
        if T > self.position_embeddings.num_embeddings:
            raise ValueError(
                f"sequence of {T} tokens exceeds max_positions="
                f"{self.position_embeddings.num_embeddings}"
            )
        x = self.word_embeddings(input_ids) + self.position_embeddings.weight[:T]
        if token_type_ids is None:  # segment 0 everywhere: add its row without a lookup
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        out: Tensor = self.dropout(self.LayerNorm(x))
        return out


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.query = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.key = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.value = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        B, T, C = x.shape
        H = self.n_head

        def heads(t: Tensor) -> Tensor:
            return t.view(B, T, H, C // H).transpose(1, 2)

        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            heads(self.query(x)), heads(self.key(x)), heads(self.value(x)),
            attn_mask=mask, dropout_p=p,
        )
        return y.transpose(1, 2).reshape(B, T, C)


class BertSelfOutput(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.LayerNorm = nn.LayerNorm(cfg.n_embd, eps=LN_EPS, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        out: Tensor = self.LayerNorm(residual + self.dropout(self.dense(y)))
        return out


class BertAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        out: Tensor = self.output(self.self(x, mask), x)
        return out


class BertIntermediate(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.approximate = gelu_approximation(cfg)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x), approximate=self.approximate)


class BertOutput(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.LayerNorm = nn.LayerNorm(cfg.n_embd, eps=LN_EPS, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        out: Tensor = self.LayerNorm(residual + self.dropout(self.dense(h)))
        return out


class BertLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.attention(x, mask)
        out: Tensor = self.output(self.intermediate(x), x)
        return out


class BertEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.n_layer))
        self.gradient_checkpointing = False  # see checkpointing.py

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return run_blocks(self.layer, x, mask,
                          checkpointed=self.gradient_checkpointing and self.training)


class BertPredictionTransform(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.LayerNorm = nn.LayerNorm(cfg.n_embd, eps=LN_EPS, bias=cfg.bias)
        self.approximate = gelu_approximation(cfg)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.LayerNorm(F.gelu(self.dense(x), approximate=self.approximate))
        return out


class BertLMPredictionHead(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.transform = BertPredictionTransform(cfg)
        self.decoder = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.transform(x), self.decoder.weight, self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(cfg)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.predictions(x)
        return out


class Bert(nn.Module):
    """Masked language model.

    `forward(input_ids, attention_mask, token_type_ids, labels)`: with labels (-100 = ignore)
    the head runs only at the labelled positions and returns (logits (N, V), mean loss);
    without labels it returns (logits (B, T, V), None).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.cls = BertOnlyMLMHead(cfg)
        self.cls.predictions.decoder.weight = self.embeddings.word_embeddings.weight  # tied
        self.apply(init_weights)

    @staticmethod
    def _attention_mask(attention_mask: Tensor | None) -> Tensor | None:
        if attention_mask is None:
            return None
        # (B, T) 1 = token, 0 = padding -> (B, 1, 1, T) boolean "may attend", broadcast over
        # heads and queries. Padded queries still see the real keys, so no row is all-masked.
        return attention_mask.bool()[:, None, None, :]

    def hidden_states(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        """(B, T, C): the encoder's output, the input of any head."""
        x = self.embeddings(input_ids, token_type_ids)
        out: Tensor = self.encoder(x, self._attention_mask(attention_mask))
        return out

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        h = self.hidden_states(input_ids, attention_mask, token_type_ids)
        if labels is None:
            all_logits: Tensor = self.cls(h)
            return all_logits, None
        # Only ~15% of positions carry a label: run the vocabulary projection on those alone.
        selected = labels != -100
        logits: Tensor = self.cls(h[selected])
        return logits, F.cross_entropy(logits, labels[selected])

    def num_parameters(self) -> int:
        """Distinct parameters (the tied decoder / word embedding matrix once)."""
        return sum(p.numel() for p in self.parameters())
