"""Separate training processes for the CPU benches: ours (`lmstudio-app pretrain`) and
nanoGPT's own train.py, on one character-level store, with their tokens/s read from their output.

Each run is a process of its own, so each side has its own OpenMP runtime and wait policy: a
bench that ran both in one process would share (and hide) the very thing it measures.

The shape is nanoGPT's CPU example (its README, shakespeare_char on a MacBook): 4 layers of
width 128 with 4 heads, block 64, batch 12, dropout 0, no biases (nanoGPT's default).
Throughput is tokens over the time of the steps after the first `skip` (start-up, first
allocations, nanoGPT's evaluation at step 0).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The bundled sample corpus (two novels, about 1.1 MB of text).
DEFAULT_CORPUS = [str(p) for p in sorted((ROOT / "resources" / "corpus").glob("*.txt"))]
SHAPE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "batch_size": 12,
         "bias": False}  # nanoGPT's default: no bias in Linear and LayerNorm
TOKENS_PER_STEP = SHAPE["block_size"] * SHAPE["batch_size"]
# What decides how OpenMP threads wait and how many there are: cleared so that a run gets
# exactly the policy it names (or, for ours, the one the program picks itself).
THREAD_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "KMP_BLOCKTIME",
               "MKL_NUM_THREADS")

# Candidate thread policies: the environment each one sets (ours picks its own under "ours").
POLICIES: dict[str, dict[str, str]] = {
    "ours": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin": {"GOMP_SPINCOUNT": "300000"},  # libgomp's default bounded spin, named
    "active": {"OMP_WAIT_POLICY": "ACTIVE"},
    "spin-10k": {"GOMP_SPINCOUNT": "10000"},
    "1-thread": {"OMP_NUM_THREADS": "1"},
}


def env_for(policy: str) -> dict[str, str]:
    """This process's environment with the thread variables of `policy` alone (any of them
    set makes our program keep its hands off: see core/util/threads.py)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | POLICIES[policy]


def load() -> str:
    """The 1-minute load average and the core count, for the figures' context."""
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"


def prepare_store(corpus: list[str], out: Path) -> Path:
    """Our character-level token store of `corpus` (the `prepare` command), in `out`."""
    cmd = [sys.executable, "-m", "lmstudio_app", "prepare", "--out", str(out), "--tokenizer",
           "char", *corpus]
    done = subprocess.run(cmd, env=env_for("passive"), capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"prepare failed: {done.stderr.strip()[-2000:]}")
    return out


def write_nanogpt_data(store_dir: Path, dest: Path) -> int:
    """nanoGPT's data format (data/shakespeare_char/prepare.py's): train.bin and val.bin of
    uint16 ids, meta.pkl with vocab_size, itos and stoi; the ids and the vocabulary are our
    store's, so both programs train on the same token stream. Returns the vocabulary size."""
    import numpy as np

    from lmstudio_app.core.data.layout import STORE, TOKENIZER
    from lmstudio_app.core.data.store import TokenStore
    from lmstudio_app.core.data.tokenizer import Tokenizer

    store = TokenStore.open(store_dir / STORE)
    tok = Tokenizer.load(store_dir / TOKENIZER)
    dest.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        store.tokens(split).astype(np.uint16).tofile(dest / f"{split}.bin")
    itos = {i: tok.id_to_piece(i) for i in range(tok.vocab_size)}
    meta = {"vocab_size": tok.vocab_size, "itos": itos, "stoi": {s: i for i, s in itos.items()}}
    (dest / "meta.pkl").write_bytes(pickle.dumps(meta))
    return tok.vocab_size


@dataclass
class Run:
    """One training process; `tokens_per_s()` once it has ended."""

    proc: subprocess.Popen[str]
    parse: str  # "ours" | "nanogpt"
    skip: int

    def tokens_per_s(self) -> float:
        out, err = self.proc.communicate()
        if self.proc.returncode:
            raise SystemExit(f"a training failed (exit {self.proc.returncode}): "
                             f"{(err or out).strip()[-2000:]}")
        times = (_ours_times if self.parse == "ours" else _nanogpt_times)(out, self.skip)
        if not times:
            raise SystemExit(f"no step timings in the output:\n{out[-2000:]}")
        return sum(n for n, _ in times) / sum(t for _, t in times)


def _ours_times(out: str, skip: int) -> list[tuple[int, float]]:
    """(tokens, seconds) of each log window of `--json` step records past step `skip`."""
    rows, last = [], 0
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if rec.get("event") != "step":
            continue
        tokens = (rec["step"] - last) * TOKENS_PER_STEP
        if last >= skip:
            rows.append((tokens, tokens / rec["tokens_per_s"]))
        last = rec["step"]
    return rows


_ITER = re.compile(r"^iter (\d+): loss [-\d.naif]+, time ([\d.]+)ms", re.MULTILINE)


def _nanogpt_times(out: str, skip: int) -> list[tuple[int, float]]:
    """(tokens, seconds) of each iteration nanoGPT logs (log_interval=1) past `skip`."""
    return [(TOKENS_PER_STEP, float(ms) / 1000) for it, ms in _ITER.findall(out)
            if int(it) > skip]


def start_ours(data: Path, steps: int, policy: str, work: Path, compile_: bool = False,
               log_interval: int = 20) -> Run:
    """`lmstudio-app pretrain` on the shape, from `data`, in a fresh run folder under `work`."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    sets = {**SHAPE, "dropout": 0.0, "eval_interval": max(steps, 1),
            "log_interval": log_interval}
    cmd = [sys.executable, "-m", "lmstudio_app", "pretrain", "--data", str(data), "--preset",
           "baby", "--max-steps", str(steps), "--device", "cpu", "--keep-checkpoints", "0",
           "--out", str(run_dir / "run"), "--json"]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    if compile_:
        cmd.append("--compile")
    proc = subprocess.Popen(cmd, env=env_for(policy), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return Run(proc, "ours", skip=log_interval)


def nanogpt_command(nanogpt: Path, steps: int, compile_: bool, out_dir: Path) -> list[str]:
    """nanoGPT's train.py with its shakespeare_char config and the CPU overrides of its README
    (plus float32 and no evaluation past step 0), every override on the command line."""
    overrides = {**SHAPE, "dropout": 0.0, "device": "cpu", "compile": compile_,
                 "dtype": "float32", "max_iters": steps, "lr_decay_iters": steps,
                 "eval_iters": 20, "eval_interval": 100000, "log_interval": 1,
                 "wandb_log": False, "dataset": "bench", "out_dir": str(out_dir)}
    return [sys.executable, str(nanogpt / "train.py"),
            str(nanogpt / "config" / "train_shakespeare_char.py"),
            *(f"--{k}={v}" for k, v in overrides.items())]


def nanogpt_workdir(nanogpt: Path, store_dir: Path, work: Path) -> Path:
    """A working folder for nanoGPT: train.py reads configurator.py and data/<dataset>/ from
    its working directory, so the checkout itself is never written to."""
    cwd = work / "nanogpt-cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    link = cwd / "configurator.py"
    if not link.exists():
        link.symlink_to(nanogpt / "configurator.py")
    write_nanogpt_data(store_dir, cwd / "data" / "bench")
    return cwd


def start_nanogpt(nanogpt: Path, cwd: Path, steps: int, policy: str,
                  compile_: bool = False, skip: int = 20) -> Run:
    cmd = nanogpt_command(nanogpt, steps, compile_, cwd / "out")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env_for(policy), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return Run(proc, "nanogpt", skip=skip)


def nanogpt_commit(nanogpt: Path) -> str:
    """The checkout's commit (git), or "unknown" where it is not a git work tree."""
    done = subprocess.run(["git", "-C", str(nanogpt), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown (not a git checkout)"
