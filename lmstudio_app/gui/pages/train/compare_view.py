"""The Train page while "Does pretraining help?" runs: its progress, its curves, its verdict.

A comparison starts on a clean page (no curves, scores or overlays of the run shown before).
It runs one pair of fine-tunes per seed (three on a small set: the engine's rule); each seed's
pair starts on clean curves. The pretrained side trains first, drawn live; when the scratch
side starts, the pretrained side's curves stay as a dashed overlay and the scratch side is drawn
live over them, and the
validation scores of both share the metrics plot (the scratch side dashed). The verdict is said
once, above the table of both sides' test figures (mean ± sd over the seeds) and baselines.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
from PySide6.QtCore import QObject, Slot

from ....core.errors import UserError
from ....core.training.compare import SIDES, CompareProgress, InitResult, verdict_of
from ....core.training.sinks import EvalMetrics

if TYPE_CHECKING:
    from .comparison import Comparison

log = logging.getLogger(__name__)


class _SideCurves(TypedDict):
    """A side's curves as they came: training rows and (step, val_loss) evaluations."""

    rows: list[np.ndarray]
    evals: list[tuple[int, float]]


class CompareView(QObject):
    """Runs one comparison at a time for `page` (the TrainPage that owns it) and shows it there.
    """

    def __init__(self, page: Any) -> None:  # a TrainPage (it imports this module)
        super().__init__(page)
        self.page = page
        self.running: Comparison | None = None
        self.results: list[tuple[InitResult, InitResult]] | None = None  # one pair per seed
        self._first: _SideCurves = {"rows": [], "evals": []}  # the first side's curves

    def start(self) -> bool:
        """Fine-tune the form's run twice (pretrained and from scratch) in a background job;
        False when the form does not describe a fine-tune that can start now."""
        page = self.page
        if not page.validate() or not page.can_start() or page.config is None \
                or page.config.finetune is None:
            return False
        from .comparison import Comparison  # loads the fine-tuning set-up (PyTorch)

        try:
            comparison = Comparison(page.config, page.state.runs_root, self,
                                    seeds=page.form.ft_form.compare_seeds())
        except UserError as exc:
            page.form.show_error(str(exc))
            return False
        job, dirs = comparison.job, comparison.dirs
        job.sig_progress.connect(self._on_progress)
        job.sig_result.connect(self._on_results)
        job.sig_error.connect(self._on_error)
        job.sig_finished.connect(self._on_finished)
        for sink in comparison.sinks.values():  # slots of this object: the GUI thread's
            sink.sig_started.connect(self._on_side_started)
            sink.sig_steps.connect(self._on_side_steps)
            sink.sig_evaluation.connect(self._on_side_evaluation)
        self.running, self.results = comparison, None
        self._first = {"rows": [], "evals": []}
        page.curves.clear()
        page.curves.clear_overlays()
        page.metrics_box.clear()
        page.metrics_box.begin_comparison()
        page.form.show_error("")
        page.progress_panel.set_steps(0, page.config.train.max_steps or 0)
        page.progress_panel.say("Comparison: starting the pretrained side (1 of 2)…")
        page.progress_panel.set_run(f"Comparing: {dirs[0].name} and {dirs[1].name}",
                                    f"{dirs[0]}\n{dirs[1]}")
        page.state.sig_status.emit("Comparing pretrained and scratch fine-tuning")
        page.update_buttons()
        log.info("comparing pretrained and scratch fine-tuning in %s and %s", *dirs)
        job.start()
        return True

    # -- each side's curves

    def _side(self) -> str:
        """The side ("pretrained", "scratch") whose QtSink sent the signal being handled."""
        if self.running is None:
            return ""
        return self.running.side_of(self.sender()) or ""

    @Slot(object)
    def _on_side_started(self, _info: dict[str, Any]) -> None:
        """The second side starts: the first side's curves stay, dashed, as an overlay. A later
        seed's first side starts on clean curves."""
        if self._side() == SIDES[0] and self._first["rows"]:
            self._first = {"rows": [], "evals": []}
            self.page.curves.clear()
            self.page.curves.clear_overlays()
            self.page.metrics_box.clear_metrics()
            return
        if self._side() != SIDES[1] or not self._first["rows"]:
            return
        rows = np.concatenate(self._first["rows"])
        evals = np.asarray(self._first["evals"], dtype=np.float64).reshape(-1, 2)
        curves = self.page.curves
        curves.clear()
        curves.add_overlay(f"{SIDES[0]} (fine-tuned)", {
            "step": rows[:, 0], "loss": rows[:, 1], "lr": rows[:, 2],
            "tokens_per_s": rows[:, 4], "eval_step": evals[:, 0], "val_loss": evals[:, 1]})

    @Slot(object, int)
    def _on_side_steps(self, rows: np.ndarray, _max_steps: int) -> None:
        self.page.curves.append_rows(rows)
        if self._side() == SIDES[0]:
            self._first["rows"].append(rows)

    @Slot(object)
    def _on_side_evaluation(self, m: EvalMetrics) -> None:
        side = self._side()
        self.page.curves.add_eval(m.step, m.val_loss)
        if m.extra:
            self.page.metrics_box.add_metrics(m.step, m.extra, side=side,
                                              dashed=side != SIDES[0])
        if side == SIDES[0]:
            self._first["evals"].append((m.step, m.val_loss))

    # -- the job

    @Slot(object)
    def _on_progress(self, p: CompareProgress) -> None:
        if self.running is None:
            return
        page = self.page
        page.progress_panel.set_steps(p.step, p.max_steps)
        if not self.running.stop_requested:
            seed = f"seed {p.seed_index} of {p.seeds}, " if p.seeds > 1 else ""
            page.progress_panel.say(f"Comparison {seed}{p.side} of 2: {p.init} · step "
                                    f"{p.step:,} / {p.max_steps:,}")
            page.state.sig_run_line.emit(
                f"Comparing ({p.init}): step {p.step:,} / {p.max_steps:,}")
        page.sig_compare_progress.emit(p)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        log.warning("the comparison failed: %s", message)
        page = self.page
        page.form.show_error(f"Comparison failed: {message}")
        page.metrics_box.comparison_failed()
        page.progress_panel.say("Comparison failed.")
        page.state.sig_status.emit(f"Comparison failed: {message}")

    @Slot(object)
    def _on_results(self, results: list[tuple[InitResult, InitResult]]) -> None:
        page = self.page
        self.results = results
        said = verdict_of(results)
        log.info("comparison: %s", said.text)
        page.metrics_box.show_comparison(results, said)
        stopped = self.running is not None and self.running.stop_requested
        page.progress_panel.say("Comparison completed." if said.complete else
                                f"Comparison {'stopped' if stopped else 'incomplete'}.")
        page.state.sig_status.emit(said.text)
        page.sig_comparison_shown.emit(results)

    @Slot()
    def _on_finished(self) -> None:
        comparison, self.running = self.running, None
        if comparison is not None:
            comparison.job.deleteLater()
        page = self.page
        page.update_buttons()
        page.validate()
        page.state.sig_run_line.emit("Idle (comparison ended)")
        page.state.sig_runs_changed.emit()
        page.sig_compare_done.emit()
