"""Tiny random GPT-2 and BERT folders made with transformers itself (no download): a config,
random weights, and a tokenizer trained here with the tokenizers library on Austen text."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import austen_text

WIDTH, LAYERS, HEADS, POSITIONS = 32, 2, 4, 128


def _lines() -> list[str]:
    return austen_text(60_000).split("\n")


def gpt2_tokenizer(vocab_size: int = 500):
    """A byte-level BPE tokenizer (GPT-2's kind) with GPT-2's one special token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_lines(), trainer)
    return tok


def bert_tokenizer(vocab_size: int = 500):
    """A WordPiece tokenizer (BERT's kind: lower case, [CLS] text [SEP])."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(_lines(), trainers.WordPieceTrainer(vocab_size=vocab_size,
                                                                special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


def save_gpt2(folder: Path, seed: int = 0, **config) -> Path:
    """A random GPT2LMHeadModel folder (GPT-2's defaults: gelu_new, eps 1e-5) with its tokenizer."""
    import torch
    import transformers

    tok = gpt2_tokenizer()
    eot = tok.token_to_id("<|endoftext|>")
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=POSITIONS,
                                  n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS, bos_token_id=eot,
                                  eos_token_id=eot, **config)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>",
                                                unk_token="<|endoftext|>")
    fast.save_pretrained(folder)
    return folder


def save_bert(folder: Path, seed: int = 0, **config) -> Path:
    """A random BertForMaskedLM folder (BERT's defaults: gelu, eps 1e-12) with its tokenizer."""
    import torch
    import transformers

    tok = bert_tokenizer()
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=WIDTH,
                                  num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                  intermediate_size=4 * WIDTH, max_position_embeddings=POSITIONS,
                                  pad_token_id=tok.token_to_id("[PAD]"), **config)
    model = transformers.BertForMaskedLM(cfg)
    with torch.no_grad():  # random, not zero, biases: a mapping mistake must show
        model.cls.predictions.bias.normal_(0, 0.5)
    model.save_pretrained(folder)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(folder)
    return folder
