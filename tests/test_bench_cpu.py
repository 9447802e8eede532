"""The CPU speed benches: vs_nanogpt refuses without a nanoGPT checkout; the fair-share bench
runs real trainings in their own processes and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_vs_nanogpt_without_a_checkout_says_so_and_fails(tmp_path):
    for args in ([], ["--nanogpt", str(tmp_path)]):
        out = subprocess.run([sys.executable, str(BENCH / "vs_nanogpt.py"), *args],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2
        assert "nanoGPT" in out.stderr and "nothing was measured" in out.stderr
        assert out.stdout == ""


def test_nanogpt_data_is_our_store_in_its_format(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import numpy as np
        from cpu_runs import nanogpt_command, prepare_store, write_nanogpt_data

        from lmstudio_app.core.data.store import TokenStore
    finally:
        sys.path.remove(str(BENCH))
    corpus = tmp_path / "a.txt"
    corpus.write_text("It is a truth universally acknowledged.\n" * 200, encoding="utf-8")
    store = prepare_store([str(corpus)], tmp_path / "data")
    vocab = write_nanogpt_data(store, tmp_path / "nano")
    ours = TokenStore.open(store / "tokens.h5")
    for split in ("train", "val"):
        ids = np.fromfile(tmp_path / "nano" / f"{split}.bin", dtype=np.uint16)
        assert np.array_equal(ids, ours.tokens(split))
    import pickle

    meta = pickle.loads((tmp_path / "nano" / "meta.pkl").read_bytes())
    assert meta["vocab_size"] == vocab == len(meta["itos"])
    assert all(meta["stoi"][s] == i for i, s in meta["itos"].items())
    cmd = nanogpt_command(Path("/n"), 7, False, tmp_path)
    assert "--max_iters=7" in cmd and "--device=cpu" in cmd and "--compile=False" in cmd


@pytest.mark.slow
def test_the_fairness_bench_prints_each_policys_share():
    out = subprocess.run([sys.executable, str(BENCH / "fairness.py"), "--policies", "ours",
                          "--steps", "40", "--rounds", "1"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("| ours | ")
