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


def test_user_error_becomes_one_line_with_its_fields(qtbot):
    def fn(report, cancel):
        raise UserError("corpus.txt: not valid UTF-8 at byte 12.\nRead it as latin-1.",
                        field="encoding", option="latin-1")

    job = BackgroundJob(fn)
    errors, located = [], []
    job.sig_error.connect(errors.append)
    job.sig_error_fields.connect(lambda message, fields: located.append((message, fields)))
    with qtbot.waitSignal(job.sig_finished, timeout=5000):
        job.start()
    assert errors == ["corpus.txt: not valid UTF-8 at byte 12. Read it as latin-1."]
    assert located == [(errors[0], ("encoding",))]


def test_a_bug_is_one_line_naming_no_field(qtbot):
    def fn(report, cancel):
        raise ZeroDivisionError("division by zero")

    job = BackgroundJob(fn)
    located = []
    job.sig_error_fields.connect(lambda message, fields: located.append((message, fields)))
    with qtbot.waitSignal(job.sig_finished, timeout=5000):
        job.start()
    assert located == [("ZeroDivisionError: division by zero (details in the log file)", ())]


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


def test_waiting_runs_the_event_loop_until_the_job_ends_or_the_time_is_up(qtbot):
    release = threading.Event()

    def fn(report, cancel):
        release.wait(10)
        return "done"

    job = BackgroundJob(fn)
    results = []
    job.sig_result.connect(results.append)
    job.start()
    began = time.monotonic()
    assert not job.wait_finished(200)  # the job still runs: the wait gives up on time
    assert 0.15 < time.monotonic() - began < 5
    release.set()
    assert job.wait_finished(5000)
    assert results == ["done"]  # the result was delivered during the wait


def test_a_job_may_run_a_call_that_takes_no_arguments(qtbot):
    results = []
    job = BackgroundJob(None, call=lambda: 7)
    job.sig_result.connect(results.append)
    with qtbot.waitSignal(job.sig_finished, timeout=5000):
        job.start()
    assert results == [7]
