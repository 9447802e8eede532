"""Encoding batches of documents in N worker processes, results in the order given.

The caller streams batches in; at most `2 * workers` batches are out at a time (texts sent and
token ids not yet taken back), so memory stays flat whatever the corpus size, and the results
come back in the order the batches went in, so the token store is the same, byte for byte, as
one worker writes. Each worker loads the tokenizer once (from its model bytes) and encodes on
one thread. Workers are started with "spawn": nothing of the parent (threads, open HDF5 files,
a window) is copied into them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Generic, TypeVar

import numpy as np

from .tokenizer import Tokenizer

Meta = TypeVar("Meta")
Encoded = tuple[np.ndarray, np.ndarray]  # (every document's ids end to end, each one's length)

_tokenizer: Tokenizer | None = None  # a worker's own, set by _start_worker


def default_workers() -> int:
    """The cores this process may run on (os.process_cpu_count, else the affinity mask)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return max(1, int(count() or 1))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def _start_worker(model: bytes) -> None:
    global _tokenizer
    _tokenizer = Tokenizer.from_bytes(model)


def encode_texts(tok: Tokenizer, texts: list[str], dtype: np.dtype) -> Encoded:
    """(ids of every text end to end (n_tokens,), each text's token count (n_texts,)), encoded
    on one thread."""
    ids = tok.encode_batch(texts, num_threads=1)
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate([np.asarray(i, dtype=dtype) for i in ids]) if ids else \
        np.zeros(0, dtype=dtype)
    return flat, lengths


def _encode_in_worker(texts: list[str], dtype: np.dtype) -> Encoded:
    assert _tokenizer is not None, "worker started without its tokenizer"
    return encode_texts(_tokenizer, texts, dtype)


def split_encoded(encoded: Encoded) -> list[np.ndarray]:
    """Each text's ids (views into the flat array)."""
    flat, lengths = encoded
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []


class EncodePool(Generic[Meta]):
    """`encode(batches)`: (meta, each text's ids) per (texts, meta) batch, in order.

    With one worker, or a corpus of one batch, the texts are encoded here, on one thread; else
    in `workers` processes. Closing the generator early (an error, a cancel) stops the workers
    after the batches they are encoding."""

    def __init__(self, tok: Tokenizer, workers: int, dtype: np.dtype) -> None:
        self.tok, self.workers, self.dtype = tok, max(1, workers), dtype

    def encode(self, batches: Iterator[tuple[list[str], Meta]]
               ) -> Iterator[tuple[Meta, list[np.ndarray]]]:
        first = next(batches, None)
        second = next(batches, None) if first is not None and self.workers > 1 else None
        if first is None:
            return
        if second is None:  # one worker, or nothing to share out
            yield first[1], split_encoded(encode_texts(self.tok, first[0], self.dtype))
            for texts, meta in batches:
                yield meta, split_encoded(encode_texts(self.tok, texts, self.dtype))
            return
        yield from self._in_workers(_chain(first, second, batches))

    def _in_workers(self, batches: Iterator[tuple[list[str], Meta]]
                    ) -> Iterator[tuple[Meta, list[np.ndarray]]]:
        pool = ProcessPoolExecutor(max_workers=self.workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self.tok.model_bytes,))
        out: deque[tuple[Future[Encoded], Meta]] = deque()
        try:
            for texts, meta in batches:
                out.append((pool.submit(_encode_in_worker, texts, self.dtype), meta))
                while len(out) >= 2 * self.workers:
                    yield _take(out)
            while out:
                yield _take(out)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _take(out: deque[tuple[Future[Encoded], Meta]]) -> tuple[Meta, list[np.ndarray]]:
    future, meta = out.popleft()
    return meta, split_encoded(future.result())


_T = TypeVar("_T")


def _chain(first: _T, second: _T, rest: Iterator[_T]) -> Iterator[_T]:
    yield first
    yield second
    yield from rest
