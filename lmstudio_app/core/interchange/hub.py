"""Where an import reads from: a local folder, or a Hugging Face repo id ("owner/name").

A repo id is looked up in the local Hugging Face cache first (`huggingface_hub.
snapshot_download(local_files_only=True)`), then downloaded with huggingface_hub when the
network is allowed (HF_HUB_OFFLINE unset): only the files an import reads (config, safetensors
weights and index, tokenizer files), never code or pickled weights. Offline and not cached is
one line that says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import UserError
from .staging import Progress

# The files an import reads; a repository's .py files and .bin weights are never fetched.
ALLOW = ["config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
         "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
         "merges.txt", "vocab.txt"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


def is_repo_id(text: str) -> bool:
    """"owner/name" that is not a folder here."""
    return bool(_REPO_ID.match(text)) and not Path(text).exists()


def _cache_dir() -> str | None:
    """The hub cache the environment names now (HF_HUB_CACHE, else HF_HOME/hub), read at each
    call rather than when huggingface_hub was imported; None: its default."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME")
    return str(Path(home) / "hub") if home else None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_source(source: str | Path, progress: Progress | None = None) -> Path:
    """The local folder for `source`: itself when it is a path, else the cached or downloaded
    snapshot of the repo id. Raises UserError (field "hf") when a repo id is neither cached nor
    downloadable (offline, unknown, gated, no network)."""
    text = str(source)
    if not is_repo_id(text):
        return Path(source)
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise UserError(f"{text}: a repo id needs huggingface_hub: pip install "
                        "'lmstudio-app[hf]' (or give a local folder).", field="hf") from None
    try:
        return Path(huggingface_hub.snapshot_download(text, allow_patterns=ALLOW,
                                                      cache_dir=_cache_dir(),
                                                      local_files_only=True))
    except (errors.LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass  # not (completely) in the cache
    if _offline():
        raise UserError(f"{text}: not in the local Hugging Face cache, and HF_HUB_OFFLINE is "
                        "set: download it while online, or give a local folder.", field="hf")
    if progress is not None:
        progress(f"downloading {text}", 0.05)
    try:
        return Path(huggingface_hub.snapshot_download(text, allow_patterns=ALLOW,
                                                      cache_dir=_cache_dir()))
    except (errors.RepositoryNotFoundError, errors.GatedRepoError) as exc:
        raise UserError(f"{text}: no such public repository, or it needs a login "
                        f"({type(exc).__name__}).", field="hf") from None
    except Exception as exc:  # noqa: BLE001 - network errors come in many kinds
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else \
            type(exc).__name__
        raise UserError(f"{text}: not in the local cache and the download failed ({first}).",
                        field="hf") from None
