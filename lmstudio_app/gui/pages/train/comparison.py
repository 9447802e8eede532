"""Does pretraining help? One comparison (core.training.compare.compare_seeds: a pretrained and
a scratch fine-tune per seed) in a BackgroundJob.

The engine trains both sides and turns their events into CompareProgress reports (CompareSink);
here the reports become the job's progress signal, and a stop is the RunControl's flag, seen by
the loop at its next step. Each side also talks to a QtSink of its own (`sinks`), whose signals
bring its step metrics and evaluations to the page's curves.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from ....core import runs
from ....core.config import RunConfig
from ....core.objectives.finetune_setup import scratch_twin
from ....core.training.compare import SIDES, CompareSink, compare_seeds, seeds_for
from ....core.training.control import RunControl
from ....core.training.sinks import FanOutSink
from ...jobs import BackgroundJob
from ...training import QtSink


class Comparison:
    """The folders, the stop flag and the job of one comparison.

    Making one claims the first seed's two run folders (pretrained first); a form whose run has
    no scratch twin raises UserError before any folder is made. The job reads the labeled file
    to settle the number of seeds (`seeds`, else the engine's rule for the set's size) and
    claims each later seed's folders when it starts. Call `job.start()` once connected.
    """

    def __init__(self, cfg: RunConfig, runs_root: Path, parent: QObject,
                 seeds: int | None = None) -> None:
        twin_name = scratch_twin(cfg).name
        self.dirs = (runs.new_run_dir(runs_root, cfg.name), runs.new_run_dir(runs_root, twin_name))
        self.all_dirs: list[tuple[Path, Path]] = [self.dirs]  # one pair per seed started
        self.control = RunControl()
        self.sinks = {init: QtSink(parent=parent) for init in SIDES}  # created in this thread
        control, sinks, all_dirs = self.control, self.sinks, self.all_dirs

        def work(report: Any, cancel: threading.Event) -> Any:
            try:
                order = seeds_for(cfg, seeds)

                def dirs_for(seed: int) -> tuple[Path, Path]:
                    if seed != order[0]:
                        tag = f"-seed{seed}"
                        all_dirs.append((runs.new_run_dir(runs_root, cfg.name + tag),
                                         runs.new_run_dir(runs_root, twin_name + tag)))
                    return all_dirs[-1]

                def sink_for(init: str, seed: int) -> FanOutSink:
                    place = CompareSink(init, report, seed_index=order.index(seed) + 1,
                                        seeds=len(order))
                    return FanOutSink(place, sinks[init])

                return compare_seeds(cfg, order, dirs_for, sink_for, control)
            finally:
                for pair in all_dirs:  # a side that never ran leaves no empty folder behind
                    for run_dir in pair:
                        if run_dir.is_dir() and not any(run_dir.iterdir()):
                            run_dir.rmdir()

        self.job = BackgroundJob(work, parent)

    @property
    def stop_requested(self) -> bool:
        return self.control.stop_requested

    def stop(self) -> None:
        """Stop at the next step boundary (a side that has not started does not start)."""
        self.control.stop()

    def side_of(self, sink: object) -> str | None:
        """Which side ("pretrained", "scratch") a QtSink of this comparison reports."""
        return next((init for init, s in self.sinks.items() if s is sink), None)

    def shutdown(self) -> None:
        """Stop, and wait (spinning the event loop) until the job has ended."""
        self.control.stop()
        self.job.cancel()
        self.job.wait_finished(60000)
