"""Chat templates in Hugging Face's Jinja form, rendered as transformers renders them.

A template turns a conversation (a list of {"role", "content"} messages) into the text the model
reads. Rendering follows transformers' `apply_chat_template` (utils/chat_template_utils.py):
a sandboxed Jinja environment with trim_blocks and lstrip_blocks, the loopcontrols extension, a
`tojson` filter that does not escape HTML, `raise_exception`, `strftime_now`, the tokenizer's
special tokens by role (`bos_token`, `eos_token`, ...) and `add_generation_prompt`. The text is
then tokenized without adding special tokens, as transformers does, so the ids are the same.

A model without a template of its own gets ChatML (`CHATML`), whose turn markers
`<|im_start|>` and `<|im_end|>` are added to the tokenizer as special tokens
(`chat_tokens.add_special_pieces`); `<|im_end|>` ends each turn and generation stops there.

Which characters are the assistant's: the text a turn adds after the prompt that asks for it
(the render of the messages before it with `add_generation_prompt=True`) up to the render with
it; a template that does not render a conversation as a growing prefix is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UserError

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHATML_TOKENS = (IM_START, IM_END)
CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# End-of-turn tokens of well-known templates: generation stops at the first one the template
# names (ChatML, Llama 3, Gemma, Phi-3), else at the end-of-text token.
END_OF_TURN_PIECES = (IM_END, "<|eot_id|>", "<end_of_turn>", "<|end|>")
TEMPLATE_FILE = "chat_template.jinja"  # where a chat-tuned run keeps its template (as HF does)

Message = Mapping[str, str]


class TemplateError(UserError):
    """A template that does not compile, or does not render a conversation."""


def _jinja() -> Any:
    try:
        import jinja2
        import jinja2.ext
        import jinja2.sandbox
    except ImportError:  # pragma: no cover - jinja2 comes with the hf extra
        raise UserError("chat templates need jinja2: pip install 'lmstudio-app[chat]'.",
                        field="chat_template") from None
    return jinja2


class _Generation:
    """Builds the `{% generation %}` extension lazily (jinja2 is imported on first use)."""

    @staticmethod
    def extension(jinja2: Any) -> Any:
        class Generation(jinja2.ext.Extension):  # type: ignore[misc]
            """transformers' assistant tracker tag, rendered as its body."""

            tags = {"generation"}

            def parse(self, parser: Any) -> Any:
                lineno = next(parser.stream).lineno
                body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
                return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body) \
                    .set_lineno(lineno)

            def _body(self, caller: Any) -> str:
                return str(caller())

        return Generation


@lru_cache(maxsize=16)
def compile_template(template: str) -> Any:
    """The compiled Jinja template; TemplateError (one line) when it does not parse."""
    jinja2 = _jinja()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
               separators: Any = None, sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[_Generation.extension(jinja2), jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateError as exc:
        raise TemplateError(f"the chat template does not compile ({_first_line(exc)}).",
                            field="chat_template") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def render(template: str, messages: Sequence[Message], *, add_generation_prompt: bool = False,
           special_tokens: Mapping[str, str] | None = None) -> str:
    """The text of `messages` under `template` (transformers' apply_chat_template with
    tokenize=False). `special_tokens` are the tokenizer's by role ("bos_token": "<s>", ...).

    Raises TemplateError when the template does not compile or raises while rendering.
    """
    compiled = compile_template(template)
    jinja2 = _jinja()
    plain = [dict(m) for m in messages]
    try:
        text: str = compiled.render(messages=plain, tools=None, documents=None,
                                    add_generation_prompt=add_generation_prompt,
                                    **dict(special_tokens or {}))
    except (jinja2.exceptions.TemplateError, TypeError, ValueError) as exc:
        raise TemplateError(f"the chat template does not render this conversation "
                            f"({_first_line(exc)}).", field="chat_template") from None
    return text


@dataclass(frozen=True)
class ChatFormat:
    """A run's chat template, where it came from, and the token that ends a turn."""

    template: str
    source: str  # "chatml" | "model" | a file's path
    end_of_turn: str  # the piece generation stops at
    special_tokens: tuple[tuple[str, str], ...] = ()  # role name -> piece, for the template

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> str:
        return render(self.template, messages, add_generation_prompt=add_generation_prompt,
                      special_tokens=dict(self.special_tokens))

    def assistant_spans(self, messages: Sequence[Message]) -> tuple[str, list[tuple[int, int]]]:
        """The conversation's text and the [start, end) characters of each assistant turn.

        Raises TemplateError when a turn's render is not a prefix of the whole (the template
        renders earlier turns differently once later ones follow).
        """
        text = self.render(messages)
        spans: list[tuple[int, int]] = []
        for k, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            prompt = self.render(messages[:k], add_generation_prompt=True)
            upto = self.render(messages[:k + 1])
            if not (upto.startswith(prompt) and text.startswith(upto)):
                raise TemplateError(f"the chat template renders turn {k + 1} differently once "
                                    "later turns follow, so the assistant's part cannot be "
                                    "found.", field="chat_template")
            spans.append((len(prompt), len(upto)))
        return text, spans


def end_of_turn_piece(template: str, eos_piece: str, has: Callable[[str], bool]) -> str:
    """The first well-known end-of-turn piece the template names and the vocabulary holds
    (`has`), else the end-of-text piece."""
    for piece in END_OF_TURN_PIECES:
        if piece in template and has(piece):
            return piece
    return eos_piece


def read_template_file(path: str | Path, field: str = "chat_template") -> str:
    """A template from a file: a .jinja file's text, or a tokenizer_config.json's
    "chat_template" (a string). UserError naming `field` when unreadable or not a template."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the chat template ({_first_line(exc)}).",
                        field=field) from None
    if path.suffix == ".json":
        try:
            value = json.loads(text).get("chat_template")
        except (json.JSONDecodeError, AttributeError):
            value = None
        if not isinstance(value, str):
            raise UserError(f"{path}: no \"chat_template\" string in this JSON file; name a "
                            ".jinja file or a tokenizer_config.json that has one.", field=field)
        text = value
    if not text.strip():
        raise UserError(f"{path}: the chat template is empty.", field=field)
    compile_template(text)
    return text
