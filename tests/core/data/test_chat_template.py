"""Chat templates render as transformers' apply_chat_template does, token for token; the
turn markers ChatML adds are one token each on both tokenizer backends."""

from __future__ import annotations

import json

import pytest

from lmstudio_app.core.data.chat_template import (
    CHATML,
    CHATML_TOKENS,
    IM_END,
    ChatFormat,
    TemplateError,
    read_template_file,
)
from lmstudio_app.core.data.chat_tokens import add_special_pieces, chat_format, chat_ids
from lmstudio_app.core.data.hf_tokenizer import HFTokenizer
from lmstudio_app.core.errors import UserError

transformers = pytest.importorskip("transformers")

# A Zephyr-like template: special tokens by role, raise_exception, loop variables, trimming.
ZEPHYR = (
    "{% if messages[0]['role'] == 'assistant' %}"
    "{{ raise_exception('a conversation starts with the user or the system') }}{% endif %}\n"
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}")

MESSAGES = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "What is the sentiment of: a lovely, sunny day in Zürich"},
    {"role": "assistant", "content": "positive"},
    {"role": "user", "content": "And of: the train was late again 🙁"},
]


@pytest.fixture(scope="module")
def tokenizers_pair(unigram_tokenizer, tmp_path_factory):
    """Our SentencePiece tokenizer with the ChatML tokens, and transformers' fast tokenizer
    saved by our HF export code and loaded back with AutoTokenizer."""
    from lmstudio_app.core.interchange.hf_vocab import save_tokenizer
    from lmstudio_app.core.interchange.spm_convert import spm_to_tokenizers

    ours = add_special_pieces(unigram_tokenizer, CHATML_TOKENS)
    folder = tmp_path_factory.mktemp("hf_tok")
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=spm_to_tokenizers(ours), bos_token="<s>", eos_token="</s>",
        unk_token="<unk>", pad_token="<pad>")
    save_tokenizer(fast, folder)
    return ours, transformers.AutoTokenizer.from_pretrained(str(folder))


@pytest.mark.parametrize("template", [CHATML, ZEPHYR], ids=["chatml", "zephyr"])
@pytest.mark.parametrize("generation_prompt", [False, True])
def test_render_equals_apply_chat_template_token_for_token(tokenizers_pair, template,
                                                           generation_prompt):
    ours, fast = tokenizers_pair
    fmt = chat_format(template, "test", ours)
    text = fmt.render(MESSAGES, add_generation_prompt=generation_prompt)
    want_text = fast.apply_chat_template(MESSAGES, chat_template=template, tokenize=False,
                                         add_generation_prompt=generation_prompt)
    assert text == want_text
    want = fast.apply_chat_template(MESSAGES, chat_template=template, tokenize=True,
                                    add_generation_prompt=generation_prompt)
    if isinstance(want, dict) or hasattr(want, "keys"):
        want = want["input_ids"]
    assert chat_ids(ours, text) == list(want)


def test_chatml_markers_are_one_token_on_both_backends(unigram_tokenizer):
    from lmstudio_app.core.interchange.spm_convert import spm_to_tokenizers

    sp = add_special_pieces(unigram_tokenizer, CHATML_TOKENS)
    assert sp.vocab_size == unigram_tokenizer.vocab_size + 2
    assert [sp.encode(p) for p in CHATML_TOKENS] == [[unigram_tokenizer.vocab_size],
                                                     [unigram_tokenizer.vocab_size + 1]]
    # Earlier ids keep their meaning.
    text = "It is a truth universally acknowledged."
    assert sp.encode(text) == unigram_tokenizer.encode(text)
    hf = HFTokenizer.from_tokenizer(spm_to_tokenizers(unigram_tokenizer))
    hf2 = add_special_pieces(hf, CHATML_TOKENS)
    assert hf2.encode("<|im_start|>user\nhi<|im_end|>")[0] == hf.vocab_size
    assert hf2.piece_to_id(IM_END) == hf.vocab_size + 1
    assert add_special_pieces(hf2, CHATML_TOKENS) is hf2  # nothing to add


def test_end_of_turn_is_the_templates_marker(unigram_tokenizer):
    sp = add_special_pieces(unigram_tokenizer, CHATML_TOKENS)
    assert chat_format(CHATML, "chatml", sp).end_of_turn == IM_END
    assert chat_format(ZEPHYR, "zephyr", sp).end_of_turn == "</s>"


def test_assistant_spans_cover_the_reply_and_its_end():
    fmt = ChatFormat(CHATML, "chatml", IM_END)
    text, spans = fmt.assistant_spans(MESSAGES[:3])
    assert [text[a:b] for a, b in spans] == ["positive<|im_end|>\n"]


def test_a_template_that_raises_is_a_template_error():
    fmt = ChatFormat(ZEPHYR, "zephyr", "</s>", (("eos_token", "</s>"),))
    with pytest.raises(TemplateError, match="starts with the user"):
        fmt.render([{"role": "assistant", "content": "hi"}])
    with pytest.raises(TemplateError, match="does not compile"):
        ChatFormat("{% for m in messages %}", "bad", "</s>").render(MESSAGES)


def test_template_files(tmp_path):
    jinja = tmp_path / "t.jinja"
    jinja.write_text(CHATML, encoding="utf-8")
    assert read_template_file(jinja) == CHATML
    cfg = tmp_path / "tokenizer_config.json"
    cfg.write_text(json.dumps({"chat_template": ZEPHYR}), encoding="utf-8")
    assert read_template_file(cfg) == ZEPHYR
    cfg.write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match="no \"chat_template\""):
        read_template_file(cfg)
