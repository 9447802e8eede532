"""What export and import share: the optional libraries, and output that appears whole or not
at all.

transformers, tokenizers and gguf come with the optional extra `pip install 'lmstudio-app[hf]'`;
without it the rest of the app works and these commands say how to install it. Outputs are
written under a hidden temporary name beside their destination and renamed into place at the
end, so a failure (bad input, a full disk, a cancel) leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..data.hf_tokenizer import HF_EXTRA
from ..errors import UserError

# (stage, fraction done in [0, 1]): export and import report through this.
Progress = Callable[[str, float], None]


def require_transformers() -> Any:
    """The transformers module, quiet and offline; a UserError saying how to install it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never reach a hub
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        import transformers
    except ImportError:
        raise UserError(f"this needs the Hugging Face libraries: {HF_EXTRA}") from None
    logging: Any = transformers.utils.logging  # untyped functions
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    return transformers


def require_gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise UserError(f"GGUF export needs the gguf package: {HF_EXTRA}") from None
    return gguf


def check_new_destination(out: Path, field: str = "out") -> Path:
    """`out` may be written: it does not exist yet, or is an empty folder."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise UserError(f"{out} already exists: choose a new name, or remove it first.",
                        field=field)
    if out.parent.exists() and not out.parent.is_dir():
        raise UserError(f"{out.parent} is a file, not a folder.", field=field)
    return out


@contextlib.contextmanager
def staged_folder(out: Path, field: str = "out") -> Iterator[Path]:
    """A temporary folder beside `out`, renamed to `out` when the block succeeds, removed
    when it fails."""
    out = check_new_destination(Path(out), field)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.is_dir():
            out.rmdir()  # an empty folder the user made for it
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder` (bytes)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def check_weights(src: Path, own: dict[str, Any], state: dict[str, Any]) -> None:
    """Refuse a folder's tensors `state` that lack one of the model's own (`own`, a
    state_dict) or hold one of another shape than config.json implies: UserError naming the
    folder and the tensor, field "hf"."""
    missing = sorted(k for k in own if k not in state)
    if missing:
        raise UserError(f"{src}: the weights lack {', '.join(missing[:3])}"
                        f"{' and more' if len(missing) > 3 else ''}.", field="hf")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise UserError(f"{src}: {k} is {tuple(state[k].shape)}, config.json implies "
                            f"{tuple(v.shape)}.", field="hf")
