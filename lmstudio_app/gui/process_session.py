"""Runs of several data-parallel processes, launched and followed from the window.

`ProcessSession` is a TrainingSession (the same signals, states and commands) that, given more
than one process, trains through a `ProcessRunner` instead of a worker thread: it writes the
form's RunConfig to a temporary JSON file and starts `python -m lmstudio_app pretrain|finetune
--config FILE --nproc N --out RUN` (PyTorch's launcher and its ranks run under that command) with
a QProcess, so the window never waits on it. The runner follows the run through its folder: a
QTimer takes the new complete records of metrics.jsonl from the engine's reader
(runs.MetricsFollower; a few times a second, each read takes only what was appended) and
status.json, and hands them to the same QtSink an in-process run's Trainer talks to. Pause,
resume and stop are written to the run folder's control file (core/training/folder_control),
which every rank polls between steps.

A stop that is not obeyed in `stop_timeout_ms` (a rank hung) becomes a SIGTERM to the command
(it hands it on to the launcher, whose ranks stop and save); a process still alive after
`kill_timeout_ms` more is killed with everything it started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QProcess, QTimer

from ..core import runs
from ..core.config import RunConfig
from ..core.training.folder_control import request
from ..core.training.sinks import EvalMetrics
from ..core.util.atomic import atomic_write_json
from .training import QtSink, Runner, TrainingSession

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


@dataclass(frozen=True)
class NodeSpec:
    """The machines a run spans (torchrun's static rendezvous): this one is node 0; the others
    run the same command with their own --node-rank (`ProcessRunner.other_nodes_command`)."""

    nnodes: int = 1
    master_addr: str = ""
    master_port: int = 29500

    def flags(self, node_rank: int) -> list[str]:
        """The command's node flags for node `node_rank` (none for one node)."""
        if self.nnodes <= 1:
            return []
        return ["--nnodes", str(self.nnodes), "--node-rank", str(node_rank),
                "--master-addr", self.master_addr, "--master-port", str(self.master_port)]


def launch_arguments(cfg: RunConfig, run_dir: Path, nproc: int, config_file: Path | None,
                     resume: bool, nodes: NodeSpec | None = None, node_rank: int = 0
                     ) -> list[str]:
    """The command line (after the Python interpreter) that trains `cfg` as `nproc` processes
    (on node `node_rank` of `nodes`): a new run from `config_file`, or the run in `run_dir`
    resumed."""
    command = "finetune" if cfg.finetune is not None else "pretrain"
    args = ["-m", "lmstudio_app", command, "--nproc", str(nproc),
            *(nodes or NodeSpec()).flags(node_rank)]
    if resume:
        return [*args, "--resume", str(run_dir)]
    assert config_file is not None
    return [*args, "--config", str(config_file), "--out", str(run_dir)]


def shared_config_file(run_dir: Path) -> Path:
    """Where a run of several nodes keeps its configuration: beside its folder, which the other
    nodes read too (a shared filesystem)."""
    return run_dir.with_name(run_dir.name + ".config.json")


class StopLimits(Protocol):
    """How long a stop may take: asked through the folder, then SIGTERM, then SIGKILL (ms)."""

    stop_timeout_ms: int
    kill_timeout_ms: int


class ProcessRunner(Runner):
    """`nproc` processes launched as a subprocess, followed through the run folder: new
    records of metrics.jsonl (runs.MetricsFollower) and status.json's state become its sink's
    events, as an in-process run's Trainer would send them."""

    def __init__(self, cfg: RunConfig, run_dir: Path, resume: bool, nproc: int, sink: QtSink,
                 limits: StopLimits, parent: QObject | None = None,
                 nodes: NodeSpec | None = None) -> None:
        super().__init__(sink, parent)
        self.config, self.run_dir, self.nproc, self.limits = cfg, run_dir, nproc, limits
        self.nodes, self._resumed = nodes or NodeSpec(), resume
        self._pending: str | None = None  # a request made before the loop could hear it
        self._status_state = ""
        self._stderr_tail, self._stderr_rest, self._said_error = "", "", False
        self._finished_reason, self._failed_message = "", ""
        self._escalated = False
        self._status_before = runs.read_json(run_dir / runs.STATUS) if resume else {}
        # A resumed run's past is on the page already: follow what is appended from now on.
        self._metrics = runs.MetricsFollower(run_dir, from_end=resume)
        self._config_file: Path | None = None
        if not resume and self.nodes.nnodes > 1:
            self._config_file = shared_config_file(run_dir)
            atomic_write_json(self._config_file, cfg.to_dict(), parents=False)
        elif not resume:
            fd, name = tempfile.mkstemp(prefix="lmstudio-run-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(cfg.to_dict(), fh)
            self._config_file = Path(name)
        proc = self._process = QProcess(self)
        proc.setProgram(sys.executable)
        proc.setArguments(launch_arguments(cfg, run_dir, nproc, self._config_file, resume,
                                           self.nodes))
        proc.setStandardOutputFile(QProcess.nullDevice())  # the folder says it all
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_process_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._running = False
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self._read_folder)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.timeout.connect(self._escalate)

    def other_nodes_command(self) -> str:
        """What to run on the other machines, one line per node (empty for one node)."""
        return "\n".join(
            shlex.join(["lmstudio-app", *launch_arguments(
                self.config, self.run_dir, self.nproc, self._config_file, self._resumed,
                self.nodes, rank)[2:]])
            for rank in range(1, self.nodes.nnodes))

    # -- the interface -------------------------------------------------------------------------

    def start(self) -> None:
        log.info("run %s in %d processes: %s", self.run_dir, self.nproc,
                 " ".join(self._process.arguments()))
        self._running = True
        self._process.start()
        self._follow.start()

    def pause(self) -> None:
        self._ask("pause")

    def resume(self) -> None:
        self._ask("resume")

    def stop(self) -> None:
        """Ask every process to stop at the next step boundary (rank 0 saves); past
        stop_timeout_ms, SIGTERM; past kill_timeout_ms more, SIGKILL."""
        self._ask("stop")
        self._stop_timer.start(self.limits.stop_timeout_ms)

    def is_running(self) -> bool:
        return self._running

    def process_id(self) -> int | None:
        return int(self._process.processId()) if self._running else None

    def kill(self) -> None:
        """End the launched processes at once (what they did since their last save is lost)."""
        pid = self.process_id()
        if pid:
            kill_tree(pid)

    # -- the run folder ------------------------------------------------------------------------

    def _ask(self, what: str) -> None:
        """Write a request to the control file; before the loop listens (it would ignore an
        older request, and a new run's folder must stay empty until it is claimed), once it
        does."""
        if self._status_state not in runs.LIVE_STATES:
            self._pending = what
            return
        try:
            request(self.run_dir, what)
        except OSError as exc:
            self.sink.message(f"could not ask the run to {what}: {exc.strerror or exc}")

    def _read_folder(self) -> None:
        """New complete records of metrics.jsonl, then status.json's state."""
        self._read_metrics()
        status = runs.read_json(self.run_dir / runs.STATUS)
        if status == self._status_before:  # a resumed run's last status, until it writes its own
            return
        state = str(status.get("state", ""))
        if not state or state == self._status_state:
            return
        before, self._status_state = self._status_state, state
        step = int(status.get("step") or 0)
        self.sink.live_step = max(self.sink.live_step, step)
        if not before:  # the first state this run wrote (a short run may be done already)
            self.sink.started(self._started_info(status))
            if self._pending is not None:
                self._ask(self._pending)
                self._pending = None
        if state == "paused":
            self.sink.paused(max(self.sink.live_step, step))

    def _started_info(self, status: dict[str, Any]) -> dict[str, Any]:
        """What the trainer's "started" event says, from the run folder's files."""
        cfg = self.config
        data = runs.read_json(self.run_dir / runs.CONFIG)
        return {"run_dir": str(self.run_dir), "objective": cfg.objective,
                "preset": cfg.preset, "parameters": int(data.get("parameters") or 0),
                "device": f"{self.nproc} processes ({cfg.train.device})", "dtype": "",
                "start_step": int(status.get("step") or 0),
                "max_steps": int(status.get("max_steps") or cfg.train.max_steps or 0),
                "processes": self.nproc}

    def _read_metrics(self) -> None:
        for record in self._metrics.read():
            kind = record.get("kind")
            if kind == "step":
                self.sink.step_record(record)
            elif kind == "eval":
                fields_: dict[str, Any] = {k: record[k] for k in EVAL_FIELDS if k in record}
                self.sink.evaluation(EvalMetrics(**fields_))
            elif kind == "checkpoint":
                self.sink.checkpoint(int(record["step"]), str(record.get("path", "")),
                                     bool(record.get("best")))
            elif kind == "finished":
                self._finished_reason = str(record.get("reason", ""))
            elif kind == "failed":
                self._failed_message = str(record.get("message", ""))
        self.sink.flush()

    # -- the process ---------------------------------------------------------------------------

    def _read_stderr(self) -> None:
        self._read_stderr_from(last=False)

    def _read_stderr_from(self, last: bool) -> None:
        """Keep the first "error: ..." line (the failing rank's reason: the launcher logs
        and counts the ranks it then stops after it), else the last line written to stderr.
        A line is read once complete (`last`: the process has ended, take what is left)."""
        text = self._stderr_rest + bytes(self._process.readAllStandardError().data()).decode(
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
        if not self._running:
            return
        if not self._escalated:
            log.warning("run %s: no stop after %d ms; terminating", self.run_dir,
                        self.limits.stop_timeout_ms)
            self._escalated = True
            self._process.terminate()
            self._stop_timer.start(self.limits.kill_timeout_ms)
        else:
            log.warning("run %s: still running; killing its processes", self.run_dir)
            self.kill()

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._running:
            self._stderr_tail = f"could not start {sys.executable}: " \
                                f"{self._process.errorString()}"
            self._on_process_finished(-1, QProcess.ExitStatus.CrashExit)

    def _on_process_finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        if not self._running:
            return
        self._running = False
        self._read_stderr_from(last=True)
        self._follow.stop()
        self._stop_timer.stop()
        self._read_metrics()
        status = runs.read_status(self.run_dir)
        reason = str(status.get("state", "")) or self._finished_reason
        # A SIGTERM'd command exits 128 + 15 once its ranks have stopped and saved.
        if reason not in ("completed", "stopped") or (code != 0 and not self._escalated):
            self.sink.failed(str(status.get("error") or "") or self._failed_message
                             or self._stderr_tail
                             or f"the training processes ended with exit status {code}")
        else:
            self.sink.finished(int(status.get("step") or 0), reason)
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)
            self._config_file = None
        log.info("run %s: processes ended (exit status %d)", self.run_dir, code)
        self.sig_ended.emit()


class ProcessSession(TrainingSession):
    """A TrainingSession that trains in `nproc` processes (a ProcessRunner) when asked for more
    than one, in a worker thread otherwise."""

    def __init__(self, parent: QObject | None = None, max_rate_hz: float = 4.0) -> None:
        super().__init__(parent, max_rate_hz)
        self.stop_timeout_ms = 120_000  # a stop asked through the folder, then SIGTERM
        self.kill_timeout_ms = 60_000  # after SIGTERM, then SIGKILL to the whole tree
        self.nproc = 1
        self.nodes = NodeSpec()  # the machines the next run spans (set before start)

    def _make_runner(self, cfg: RunConfig, run_dir: Path, resume: bool, nproc: int,
                     sink: QtSink) -> Runner:
        """The folder must exist (empty for a new run) when `nproc` (or the nodes) is more than
        one."""
        self.nproc = nproc
        if nproc <= 1 and self.nodes.nnodes <= 1:
            return super()._make_runner(cfg, run_dir, resume, nproc, sink)
        return ProcessRunner(cfg, run_dir, resume, nproc, sink, self, self, self.nodes)

    def other_nodes_command(self) -> str:
        """What the other machines of the running job run ("" for a job on one)."""
        runner = self._runner
        return runner.other_nodes_command() if isinstance(runner, ProcessRunner) else ""

    def kill(self) -> None:
        """End the launched processes at once (what they did since their last save is lost)."""
        if isinstance(self._runner, ProcessRunner):
            self._runner.kill()
