"""The Train page's checkpoint marks: the curve marks the snapshots the run keeps, and a click on
one opens those weights in the Playground.

While a run trains, the kept set follows the engine's own rule (snapshots.choose_kept, fed with
the evaluations' checkpoints as they come), so no folder is listed on the GUI thread; a run read
from disk brings its listed snapshots (read in the page's history job).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot

from ....core.config import RunConfig
from ....core.training.sinks import EvalMetrics
from ....core.training.snapshots import choose_kept


class SnapshotMarks(QObject):
    """Keeps `curves`' checkpoint marks true to the run shown; emits the state's
    sig_use_checkpoint(run_dir, step) when one is clicked."""

    def __init__(self, page: Any) -> None:
        super().__init__(page)
        self.page = page
        self.run_dir: Path | None = None
        self.kept: set[int] = set()
        self.best_step: int | None = None
        self._keep = 0
        self._max_steps: int | None = 0  # None: a budget not derived yet
        self._last_eval: int | None = None
        session = page.session
        session.sig_started.connect(self._on_started)
        session.sig_evaluation.connect(self._on_evaluation)
        session.sig_checkpoint.connect(self._on_checkpoint)
        page.curves.sig_checkpoint_chosen.connect(self.open_step)

    def show_run(self, run_dir: Path, cfg: RunConfig, steps: list[int],
                 best_step: int | None) -> None:
        """A run read from disk: its kept snapshots (the curves got them with its arrays)."""
        self.run_dir = Path(run_dir)
        self.kept, self.best_step = set(steps), best_step
        self._keep, self._max_steps = cfg.train.keep_checkpoints, cfg.train.max_steps

    @Slot(object)
    def _on_started(self, info: dict[str, Any]) -> None:
        cfg = self.page.session.config
        self.run_dir = Path(info["run_dir"])
        if not info.get("start_step"):  # a new run; a resumed one keeps what it had
            self.kept, self.best_step = set(), None
        if cfg is not None:  # a fine-tune's budget is derived when it starts: info has it
            self._keep = cfg.train.keep_checkpoints
            self._max_steps = int(info.get("max_steps") or cfg.train.max_steps or 0)
        self.page.curves.set_checkpoints(self.kept)

    @Slot(object)
    def _on_evaluation(self, m: EvalMetrics) -> None:
        self._last_eval = m.step

    @Slot(int, str, bool)
    def _on_checkpoint(self, step: int, _path: str, best: bool) -> None:
        if best:
            self.best_step = step
        if step != self._last_eval or self._keep <= 0:
            return  # a save without an evaluation (a pause, a stop) keeps no snapshot
        self.kept = choose_kept(self.kept | {step}, self._keep, self._max_steps,
                                self.best_step)
        self.page.curves.set_checkpoints(self.kept)

    def open_step(self, step: int) -> None:
        """Open the shown run's weights of `step` in the Playground."""
        if self.run_dir is not None:
            self.page.state.sig_use_checkpoint.emit(self.run_dir, int(step))
