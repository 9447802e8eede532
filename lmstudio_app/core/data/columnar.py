"""Documents from columnar corpora: Parquet files (alone or a folder of shards, as FineWeb and
TinyStories come) and Hugging Face datasets saved with `Dataset.save_to_disk` (Arrow IPC stream
files listed in the folder's state.json), read with pyarrow one record batch at a time, so a
shard never has to fit in memory.

The text is one string column, named like a JSONL field (`CorpusOptions.text_field`). Every shard
of a corpus is checked before any work starts (its footer or stream header only): a missing text
column, a column that is not text, or columns that differ from the first shard's are one line
naming the shard.

Reference: Apache Parquet and Arrow IPC formats (https://arrow.apache.org/docs/python/);
Hugging Face `datasets.Dataset.save_to_disk` folder layout (state.json, dataset_dict.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import UserError
from .text import TextNotes, clean_string

COLUMNAR_SUFFIXES = (".parquet", ".arrow")
_BATCH_ROWS = 1024
_HINT = "pip install 'lmstudio-app[corpora]'"


def is_columnar(path: Path) -> bool:
    return path.name.lower().endswith(COLUMNAR_SUFFIXES)


def _pyarrow() -> tuple[ModuleType, ModuleType, ModuleType]:
    """(pyarrow, pyarrow.parquet, pyarrow.ipc), or UserError with the install hint."""
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise UserError(f"reading Parquet and Arrow corpora needs pyarrow: {_HINT}.") from None
    return pyarrow, pyarrow.parquet, pyarrow.ipc


def saved_dataset_files(folder: Path) -> list[Path] | None:
    """The Arrow files of a dataset saved with `save_to_disk`, in order; None when `folder` is
    not one. A DatasetDict folder (dataset_dict.json) gives its "train" split. Raises UserError
    for a DatasetDict without a train split, or a state.json that cannot be read."""
    splits = folder / "dataset_dict.json"
    if splits.is_file():
        names = _json(splits).get("splits", [])
        if "train" not in names:
            raise UserError(f"{folder}: a saved DatasetDict without a 'train' split (splits: "
                            f"{', '.join(map(str, names)) or 'none'}); name a split's folder.")
        return saved_dataset_files(folder / "train")
    state = folder / "state.json"
    if not state.is_file():
        return None
    files = [folder / str(entry["filename"]) for entry in _json(state).get("_data_files", [])]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise UserError(f"{missing[0]}: listed in {state} but missing; save the dataset again.")
    return files


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); save the dataset again.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a JSON object; save the dataset again.")
    return data


def _schema(path: Path) -> Any:
    """The shard's schema (pyarrow.Schema), from the Parquet footer or the Arrow stream header."""
    _pa, pq, ipc = _pyarrow()
    try:
        if path.name.lower().endswith(".parquet"):
            return pq.read_schema(path)
        with open(path, "rb") as fh:
            return _open_arrow(ipc, fh).schema
    except OSError as exc:
        raise UserError(f"{path}: cannot read the shard ({exc}).") from None
    except Exception as exc:  # pyarrow.ArrowInvalid: not Parquet / Arrow, or damaged
        raise UserError(f"{path}: not a readable {path.suffix[1:]} file ({exc}).") from None


def _open_arrow(ipc: ModuleType, source: Any) -> Any:
    """A batch reader over an Arrow IPC stream (what save_to_disk writes) or IPC file."""
    try:
        return ipc.open_stream(source)
    except Exception:  # pyarrow.ArrowInvalid: an IPC file, not a stream
        source.seek(0)
        return ipc.open_file(source)


def _describe(schema: Any) -> str:
    return ", ".join(f"{f.name} ({f.type})" for f in schema) or "none"


def check_shards(files: Sequence[Path], field: str) -> None:
    """Refuse, naming the shard, a columnar file without the text column `field`, with a column
    `field` that is not text, or with other columns than the first columnar file's. Reads only
    footers and headers."""
    first: tuple[Path, Any] | None = None
    for path in files:
        if not is_columnar(path):
            continue
        schema = _schema(path)
        if field not in schema.names:
            texts = [f.name for f in schema if _is_text(f.type)]
            raise UserError(f"{path}: no column {field!r} (columns: {_describe(schema)}); name "
                            "the column that holds the text.", field="text_field",
                            option=texts[0] if texts else None)
        column_type = schema.field(field).type
        if not _is_text(column_type):
            raise UserError(f"{path}: column {field!r} holds {column_type}, not text; name a "
                            "column that holds text.", field="text_field")
        if first is None:
            first = (path, schema)
        elif not schema.equals(first[1], check_metadata=False):
            raise UserError(f"{path}: its columns ({_describe(schema)}) differ from those of "
                            f"{first[0].name} ({_describe(first[1])}); every shard of a corpus "
                            "has the same columns: remove or convert this shard.")


def _is_text(arrow_type: Any) -> bool:
    pa, _pq, _ipc = _pyarrow()
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def text_bytes(path: Path) -> int:
    """The uncompressed size of a Parquet file's data (its footer's figure), else its size."""
    if path.name.lower().endswith(".parquet"):
        _pa, pq, _ipc = _pyarrow()
        meta = pq.ParquetFile(path).metadata
        data = sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))
        return max(path.stat().st_size, data)
    return path.stat().st_size


def columnar_documents(path: Path, field: str, on_bytes: Callable[[int], None] | None = None,
                       notes: TextNotes | None = None) -> Iterator[str]:
    """The strings of column `field`, row by row (null rows skipped, lone surrogates and NULs
    cleaned as for JSON); `on_bytes` is told the share of the file's size each batch stands
    for. Raises UserError as `check_shards` does."""
    check_shards([path], field)
    size = path.stat().st_size
    told = 0
    row = 0
    for done, values in _batches(path, field):
        for value in values:
            row += 1
            if value is not None:
                yield clean_string(value, path, row, notes)
        if on_bytes is not None:
            now = int(size * done)
            on_bytes(now - told)
            told = now


def _batches(path: Path, field: str) -> Iterator[tuple[float, list[str | None]]]:
    """(share of the file read, the column's values) per record batch."""
    _pa, pq, ipc = _pyarrow()
    if path.name.lower().endswith(".parquet"):
        pf = pq.ParquetFile(path)
        rows = max(pf.metadata.num_rows, 1)
        seen = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=[field]):
            seen += batch.num_rows
            yield seen / rows, batch.column(0).to_pylist()
        return
    with open(path, "rb") as fh:
        size = max(path.stat().st_size, 1)
        reader = _open_arrow(ipc, fh)
        if hasattr(reader, "num_record_batches"):  # an IPC file
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(reader)
        for batch in batches:
            yield min(fh.tell() / size, 1.0), batch.column(field).to_pylist()
