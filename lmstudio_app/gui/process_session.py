"""Runs of several data-parallel processes, launched and followed from the window.

`ProcessSession` is a TrainingSession (the same signals, states and commands) that, given more
than one process, trains in a subprocess instead of a worker thread: it writes the form's
RunConfig to a temporary JSON file and starts `python -m lmstudio_app pretrain|finetune --config
FILE --nproc N --out RUN` (PyTorch's launcher and its ranks run under that command) with a
QProcess, so the window never waits on it. The window follows the run through its folder: a
QTimer reads the new complete lines of metrics.jsonl (a few times a second; each read takes only
what was appended since the last) and status.json, and emits what an in-process run's sink
would. Pause, resume and stop are written to the run folder's control file
(core/training/folder_control), which every rank polls between steps.

A stop that is not obeyed in `stop_timeout_ms` (a rank hung) becomes a SIGTERM to the command
(it hands it on to the launcher, whose ranks stop and save); a process still alive after
`kill_timeout_ms` more is killed with everything it started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QProcess, QThread, QTimer

from ..core import runs
from ..core.config import RunConfig
from ..core.training.folder_control import request
from ..core.training.sinks import EvalMetrics
from .training import STEP_COLUMNS, TrainingSession

log = logging.getLogger(__name__)

FOLLOW_MS = 250  # how often the run folder is read (4 times a second)
EVAL_FIELDS = tuple(f.name for f in fields(EvalMetrics))


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (read from /proc; [] where there is none).

    PyTorch's launcher runs in a session of its own (so a Ctrl-C reaches the command alone):
    killing the command's process group would not reach it or its ranks."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            ppid = int(entry.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and every process under it (the children first found, then it)."""
    for p in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


def step_row(record: dict[str, Any]) -> tuple[float, ...]:
    """A metrics.jsonl "step" record as a row of STEP_COLUMNS (NaN where a figure is absent)."""
    return tuple(math.nan if record.get(c) is None else float(record[c]) for c in STEP_COLUMNS)


def launch_arguments(cfg: RunConfig, run_dir: Path, nproc: int, config_file: Path | None,
                     resume: bool) -> list[str]:
    """The command line (after the Python interpreter) that trains `cfg` as `nproc` processes:
    a new run from `config_file`, or the run in `run_dir` resumed."""
    command = "finetune" if cfg.finetune is not None else "pretrain"
    args = ["-m", "lmstudio_app", command, "--nproc", str(nproc)]
    if resume:
        return [*args, "--resume", str(run_dir)]
    assert config_file is not None
    return [*args, "--config", str(config_file), "--out", str(run_dir)]


class ProcessSession(TrainingSession):
    """A TrainingSession that trains in `nproc` processes when asked for more than one."""

    def __init__(self, parent: QObject | None = None, max_rate_hz: float = 4.0) -> None:
        super().__init__(parent, max_rate_hz)
        self.stop_timeout_ms = 120_000  # a stop asked through the folder, then SIGTERM
        self.kill_timeout_ms = 60_000  # after SIGTERM, then SIGKILL to the whole tree
        self.nproc = 1
        self._process: QProcess | None = None
        self._config_file: Path | None = None
        self._offset = 0  # bytes of metrics.jsonl read so far
        self._partial = b""  # a line being written, kept until its newline arrives
        self._last: dict[str, int] = {}  # kind -> last step emitted (a re-read repeats none)
        self._status_state = ""
        self._pending: str | None = None  # a request made before the loop could hear it
        self._stderr_tail = ""
        self._said_error = False
        self._stderr_rest = ""
        self._finished_reason = ""
        self._failed_message = ""
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self._read_folder)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.timeout.connect(self._escalate)
        self._escalated = False
        self._status_before: dict[str, Any] = {}

    # -- commands ------------------------------------------------------------------------------

    def start(self, cfg: RunConfig, run_dir: Path, resume: bool = False, nproc: int = 1) -> None:
        """Train `cfg` into `run_dir`: in a worker thread with one process, else in `nproc`
        processes launched as a subprocess (the folder must exist: empty for a new run)."""
        self.nproc = nproc
        if nproc <= 1:
            super().start(cfg, run_dir, resume=resume)
            return
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self.config, self.run_dir = cfg, Path(run_dir)
        self.reason, self.step = "", 0
        self._reset_follower(resume)
        config_file = None
        if not resume:
            fd, name = tempfile.mkstemp(prefix="lmstudio-run-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(cfg.to_dict(), fh)
            config_file = self._config_file = Path(name)
        proc = QProcess(self)
        proc.setProgram(sys.executable)
        proc.setArguments(launch_arguments(cfg, self.run_dir, nproc, config_file, resume))
        proc.setStandardOutputFile(QProcess.nullDevice())  # the folder says it all
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_process_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._process = proc
        self._set_state("starting")
        log.info("%s run %s in %d processes: %s", "resuming" if resume else "starting",
                 self.run_dir, nproc, " ".join(proc.arguments()))
        proc.start()
        self._follow.start()

    def pause(self) -> None:
        if self._process is None:
            super().pause()
        elif self.state in ("starting", "running"):
            self._ask("pause")
            self._set_state("pausing")

    def resume(self) -> None:
        if self._process is None:
            super().resume()
        elif self.state in ("pausing", "paused"):
            self._ask("resume")
            self._set_state("running")

    def stop(self) -> None:
        """Ask every process to stop at the next step boundary (rank 0 saves); past
        stop_timeout_ms, SIGTERM; past kill_timeout_ms more, SIGKILL."""
        if self._process is None:
            super().stop()
            return
        if self.state == "stopping":
            return
        log.info("run %s: stop asked at step %d", self.run_dir, self.step)
        self._ask("stop")
        self._set_state("stopping")
        self._stop_timer.start(self.stop_timeout_ms)

    def is_running(self) -> bool:
        return self._process is not None or super().is_running()

    def process_id(self) -> int | None:
        """The launched command's process id while it runs (None in-process or idle)."""
        return int(self._process.processId()) if self._process is not None else None

    def wait_finished(self, timeout_ms: int = 60000) -> bool:
        if self._process is None:
            return super().wait_finished(timeout_ms)
        timer = QElapsedTimer()
        timer.start()
        while self._process is not None and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            QThread.msleep(5)
        return self._process is None

    def kill(self) -> None:
        """End the launched processes at once (what they did since their last save is lost)."""
        if self._process is not None:
            pid = int(self._process.processId())
            if pid > 0:
                kill_tree(pid)

    # -- the run folder ------------------------------------------------------------------------

    def _ask(self, what: str) -> None:
        """Write a request to the control file; before the loop listens (it would ignore an
        older request, and a new run's folder must stay empty until it is claimed), once it
        does."""
        if self._status_state not in runs.LIVE_STATES:
            self._pending = what
            return
        assert self.run_dir is not None
        try:
            request(self.run_dir, what)
        except OSError as exc:
            self.sig_message.emit(f"could not ask the run to {what}: {exc.strerror or exc}")

    def _reset_follower(self, resume: bool) -> None:
        assert self.run_dir is not None
        self._partial, self._last, self._pending = b"", {}, None
        self._status_state, self._stderr_tail, self._said_error = "", "", False
        self._stderr_rest = ""
        self._finished_reason, self._failed_message, self._escalated = "", "", False
        self._status_before = runs.read_json(self.run_dir / runs.STATUS) if resume else {}
        # A resumed run's past is on the page already: follow what is appended from now on.
        path = self.run_dir / runs.METRICS
        self._offset = path.stat().st_size if resume and path.exists() else 0

    def _read_folder(self) -> None:
        """New complete lines of metrics.jsonl, then status.json's state."""
        assert self.run_dir is not None
        self._read_metrics()
        status = runs.read_json(self.run_dir / runs.STATUS)
        if status == self._status_before:  # a resumed run's last status, until it writes its own
            return
        state = str(status.get("state", ""))
        if not state or state == self._status_state:
            return
        before, self._status_state = self._status_state, state
        self.step = max(self.step, int(status.get("step") or 0))
        if not before:  # the first state this run wrote (a short run may be done already)
            self._on_started(self._started_info(status))
            if self._pending is not None:
                self._ask(self._pending)
                self._pending = None
        if state == "paused":
            self._on_paused(self.step)

    def _started_info(self, status: dict[str, Any]) -> dict[str, Any]:
        """What the trainer's "started" event says, from the run folder's files."""
        assert self.config is not None
        data = runs.read_json(self.run_dir / runs.CONFIG) if self.run_dir else {}
        return {"run_dir": str(self.run_dir), "objective": self.config.objective,
                "preset": self.config.preset, "parameters": int(data.get("parameters") or 0),
                "device": f"{self.nproc} processes ({self.config.train.device})", "dtype": "",
                "start_step": int(status.get("step") or 0),
                "max_steps": int(status.get("max_steps") or self.config.train.max_steps or 0),
                "processes": self.nproc}

    def _read_metrics(self) -> None:
        assert self.run_dir is not None
        path = self.run_dir / runs.METRICS
        try:
            size = path.stat().st_size
            if size < self._offset:  # a resume dropped steps beyond its checkpoint
                self._offset, self._partial = 0, b""
            if size == self._offset:
                return
            with open(path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(size - self._offset)
        except OSError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        rows: list[tuple[float, ...]] = []
        max_steps = 0
        for line in lines:
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):
                continue
            if not isinstance(record, dict) or not self._new(record):
                continue
            kind = record.get("kind")
            if kind == "step":
                rows.append(step_row(record))
                max_steps = int(record.get("max_steps") or max_steps)
                continue
            if rows:  # keep the order: the steps before the event first
                self._on_steps(np.asarray(rows, dtype=np.float64), max_steps)
                rows = []
            if kind == "eval":
                self.sig_evaluation.emit(EvalMetrics(**{k: record.get(k) for k in EVAL_FIELDS
                                                        if k in record}))
            elif kind == "checkpoint":
                self.sig_checkpoint.emit(int(record["step"]), str(record.get("path", "")),
                                         bool(record.get("best")))
            elif kind == "finished":
                self._finished_reason = str(record.get("reason", ""))
            elif kind == "failed":
                self._failed_message = str(record.get("message", ""))
        if rows:
            self._on_steps(np.asarray(rows, dtype=np.float64), max_steps)

    def _new(self, record: dict[str, Any]) -> bool:
        """A record not emitted yet (after a re-read from the top, steps already sent are not)."""
        kind, step = str(record.get("kind")), record.get("step")
        if kind not in ("step", "eval", "checkpoint") or not isinstance(step, int):
            return True
        if step <= self._last.get(kind, -1):
            return False
        self._last[kind] = step
        return True

    # -- the process ---------------------------------------------------------------------------

    def _read_stderr(self) -> None:
        if self._process is not None:
            self._read_stderr_from(self._process)

    def _read_stderr_from(self, proc: QProcess, last: bool = False) -> None:
        """Keep the first "error: ..." line (the failing rank's reason: the launcher logs
        and counts the ranks it then stops after it), else the last line written to stderr.
        A line is read once complete (`last`: the process has ended, take what is left)."""
        text = self._stderr_rest + bytes(proc.readAllStandardError().data()).decode(
            "utf-8", "replace")
        *complete, self._stderr_rest = text.split("\n")
        if last:
            complete.append(self._stderr_rest)
        if self._said_error:
            return
        lines = [ln.strip() for ln in complete if ln.strip()]
        said = [ln.removeprefix("error:").strip() for ln in lines if ln.startswith("error:")]
        if said:
            self._stderr_tail, self._said_error = said[0], True
        elif lines:
            self._stderr_tail = lines[-1][-500:]

    def _escalate(self) -> None:
        """A stop not obeyed in time: SIGTERM (the ranks stop and save); later, SIGKILL."""
        if self._process is None:
            return
        if not self._escalated:
            log.warning("run %s: no stop after %d ms; terminating", self.run_dir,
                        self.stop_timeout_ms)
            self._escalated = True
            self._process.terminate()
            self._stop_timer.start(self.kill_timeout_ms)
        else:
            log.warning("run %s: still running; killing its processes", self.run_dir)
            self.kill()

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._stderr_tail = f"could not start {sys.executable}: " \
                                f"{self._process.errorString()}"
            self._on_process_finished(-1, QProcess.ExitStatus.CrashExit)

    def _on_process_finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        proc, self._process = self._process, None
        if proc is None:
            return
        self._read_stderr_from(proc, last=True)
        self._follow.stop()
        self._stop_timer.stop()
        if self.run_dir is not None:
            self._read_metrics()
        status = runs.read_status(self.run_dir) if self.run_dir is not None else {}
        reason = str(status.get("state", "")) or self._finished_reason
        # A SIGTERM'd command exits 128 + 15 once its ranks have stopped and saved.
        if reason not in ("completed", "stopped") or (code != 0 and not self._escalated):
            message = (str(status.get("error") or "") or self._failed_message
                       or self._stderr_tail or f"the training processes ended with exit "
                                                f"status {code}")
            self._on_failed(message)
        else:
            self.reason = reason
            self.step = max(self.step, int(status.get("step") or 0))
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)
            self._config_file = None
        proc.deleteLater()
        reason = self.reason or "stopped"
        log.info("run %s: %s at step %d (exit status %d)", self.run_dir, reason, self.step, code)
        self._set_state("idle")
        self.sig_done.emit(self.run_dir, reason)
