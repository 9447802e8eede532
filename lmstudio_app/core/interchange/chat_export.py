"""A chat run's template in what its exports are read by: transformers, llama.cpp and Ollama.

    Hugging Face folder   "chat_template" in tokenizer_config.json (read by transformers 4 and
                          5: AutoTokenizer's apply_chat_template then gives the run's tokens);
                          generation_config's eos_token_id also lists the end-of-turn token
    GGUF                  tokenizer.chat_template (llama.cpp's chat reads it) and the
                          end-of-turn token as tokenizer.ggml.eot_token_id
    Ollama                a Modelfile beside every GGUF: FROM ./FILE.gguf, for a ChatML run
                          the same turns in Ollama's Go-template form (TEMPLATE) and PARAMETER
                          stop "<|im_end|>"; a run that only continues text gets a template
                          that passes the prompt through as it is.

Reference: Ollama's docs/modelfile.md and docs/template.md (the ChatML example).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.chat_template import CHATML, IM_END, ChatFormat
from ..data.tokenizer_base import BaseTokenizer
from ..util.atomic import atomic_write_bytes

MODELFILE = "Modelfile"
# ChatML in Ollama's Go template: each message (system ones included) as a ChatML turn, then
# the assistant's turn opened for the reply, as add_generation_prompt does.
OLLAMA_CHATML = ("{{- range .Messages }}<|im_start|>{{ .Role }}\n"
                 "{{ .Content }}<|im_end|>\n"
                 "{{ end }}<|im_start|>assistant\n")
OLLAMA_RAW = "{{ .Prompt }}"


def modelfile_text(gguf_name: str, chat: ChatFormat | None, eos_piece: str) -> str:
    """An Ollama Modelfile for the GGUF file `gguf_name` in the same folder."""
    lines = [f"FROM ./{gguf_name}"]
    if chat is not None and chat.template == CHATML:
        lines.append(f'TEMPLATE """{OLLAMA_CHATML}"""')
    elif chat is not None:
        lines.append("# The chat template (Jinja) is in the GGUF's tokenizer.chat_template; "
                     "write its Go form here for Ollama.")
    else:
        lines.append(f'TEMPLATE """{OLLAMA_RAW}"""')
    stop = chat.end_of_turn if chat is not None else eos_piece
    lines.append(f'PARAMETER stop "{stop}"')
    if chat is not None and stop != eos_piece:
        lines.append(f'PARAMETER stop "{eos_piece}"')
    return "\n".join(lines) + "\n"


def write_modelfile(gguf_path: Path, chat: ChatFormat | None, eos_piece: str) -> Path:
    """Write the Modelfile beside `gguf_path` (named `Modelfile`, or `STEM.Modelfile` when a
    Modelfile for another file is already there); its path."""
    gguf_path = Path(gguf_path)
    path = gguf_path.parent / MODELFILE
    if path.is_file() and not path.read_text(encoding="utf-8").startswith(
            f"FROM ./{gguf_path.name}\n"):
        path = gguf_path.parent / f"{gguf_path.stem}.{MODELFILE}"
    atomic_write_bytes(path, modelfile_text(gguf_path.name, chat, eos_piece).encode("utf-8"),
                       parents=False)
    return path


def add_gguf_chat(writer: Any, chat: ChatFormat | None, tokenizer: BaseTokenizer) -> None:
    """tokenizer.chat_template and the end-of-turn id, for a chat run."""
    if chat is None:
        return
    writer.add_chat_template(chat.template)
    eot = tokenizer.piece_to_id(chat.end_of_turn)
    if eot != tokenizer.eos_id:
        writer.add_eot_token_id(eot)


def hf_chat(hf_model: Any, hf_tok: Any, chat: ChatFormat | None,
            tokenizer: BaseTokenizer) -> None:
    """The template on transformers' tokenizer, and generation stopping at the end of a turn."""
    if chat is None:
        return
    hf_tok.chat_template = chat.template
    eot = tokenizer.piece_to_id(chat.end_of_turn)
    config = getattr(hf_model, "generation_config", None)
    if config is not None and eot != tokenizer.eos_id:
        config.eos_token_id = [tokenizer.eos_id, eot]


__all__ = ["IM_END", "MODELFILE", "OLLAMA_CHATML", "add_gguf_chat", "hf_chat",
           "modelfile_text", "write_modelfile"]
