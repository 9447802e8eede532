"""BackgroundJob: results, errors and cancellation arrive as signals in the GUI thread."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread

from lmstudio_app.core.errors import UserError
from lmstudio_app.gui.jobs import BackgroundJob, JobCancelled


def test_result_arrives_in_gui_thread(qtbot):
    seen = {}

    def fn(report, cancel):
        seen["worker_thread"] = threading.get_ident()
        report(0.5)
        return 42

    job = BackgroundJob(fn)
    progress, results = [], []
    job.sig_progress.connect(progress.append)
    job.sig_result.connect(lambda v: results.append((v, QThread.currentThread())))
    with qtbot.waitSignal(job.sig_finished, timeout=5000):
        job.start()
    assert progress == [0.5]
    assert results[0][0] == 42
    assert seen["worker_thread"] != threading.get_ident()
    assert not job.is_running()


def test_user_error_becomes_one_line(qtbot):
    def fn(report, cancel):
        raise UserError("corpus.txt: not valid UTF-8 at byte 12.\nUse --encoding replace.")

    job = BackgroundJob(fn)
    errors = []
    job.sig_error.connect(errors.append)
    with qtbot.waitSignal(job.sig_finished, timeout=5000):
        job.start()
    assert errors == ["corpus.txt: not valid UTF-8 at byte 12. Use --encoding replace."]


def test_cancel_is_seen_by_the_job(qtbot):
    def fn(report, cancel):
        while not cancel.is_set():
            time.sleep(0.01)
        raise JobCancelled

    job = BackgroundJob(fn)
    cancelled = []
    job.sig_cancelled.connect(lambda: cancelled.append(True))
    job.start()
    job.cancel()
    assert job.wait_finished(5000)
    assert cancelled == [True]
