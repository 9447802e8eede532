"""The Train page's Nodes row: more than one machine asks for node 0's address, and once Start
has launched this machine's part, shows (and copies) the command the other machines run. The
slow test plays the other machine itself: it runs the copied command, and the two nodes train
the run the window follows to completion."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QSpinBox

from lmstudio_app.core import runs
from lmstudio_app.gui.find import button, labelled, named
from lmstudio_app.gui.pages.train.nodes_box import NodesBox
from lmstudio_app.gui.process_session import NodeSpec, launch_arguments, shared_config_file
from tests.core.training.test_distributed import ENV, kill_group
from tests.gui.pages.train.test_processes import TINY, page  # noqa: F401 - the fixture


def test_more_nodes_ask_for_node_zero_and_build_each_nodes_command(qtbot, page):  # noqa: F811
    box = page.form.nodes_box
    assert isinstance(box, NodesBox) and labelled(page, "Nodes", NodesBox) is box
    assert box.count.value() == 1 and not box.address.isVisibleTo(page)
    box.count.setValue(2)
    assert box.address.isVisibleTo(page) and box.command.isVisibleTo(page)
    assert not box.copy_button.isEnabled()  # nothing to copy before Start
    box.address.setText("")
    for key, value in TINY.items():
        page.set_field(key, value)
    page.set_field("max_steps", 5)
    assert not page.start()
    assert "Nodes: give the address" in named(page, "Errors", QLabel).text()
    assert not page.session.is_running()
    box.address.setText("10.0.0.5")
    box.port.setValue(29600)
    assert box.spec() == NodeSpec(2, "10.0.0.5", 29600)
    cfg = page.config
    args = launch_arguments(cfg, page.state.runs_root / "r", 2, shared_config_file(
        page.state.runs_root / "r"), False, box.spec(), 1)
    assert args[2:] == ["pretrain", "--nproc", "2", "--nnodes", "2", "--node-rank", "1",
                        "--master-addr", "10.0.0.5", "--master-port", "29600", "--config",
                        str(page.state.runs_root / "r.config.json"), "--out",
                        str(page.state.runs_root / "r")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_copied_command_runs_the_other_node_to_completion(qtbot, page):  # noqa: F811
    for key, value in {**TINY, "max_steps": 6, "eval_interval": 3}.items():
        page.set_field(key, value)
    box = page.form.nodes_box
    box.count.setValue(2)
    named(page, "Address of node 0", QLineEdit).setText("127.0.0.1")
    named(page, "Port", QSpinBox).setValue(_free_port())
    with qtbot.waitSignal(page.session.sig_phase, timeout=40000, raising=False):
        qtbot.mouseClick(button(page, "Start"), Qt.MouseButton.LeftButton)
    run_dir = page.session.run_dir
    shown = named(page, "Command for the other machines", QPlainTextEdit).toPlainText()
    assert shown.startswith("lmstudio-app pretrain --nproc 1 --nnodes 2 --node-rank 1 ")
    assert f"--out {run_dir}" in shown and "\n" not in shown
    qtbot.mouseClick(box.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == shown
    other = subprocess.Popen([sys.executable, "-m", "lmstudio_app", *shlex.split(shown)[1:]],
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        with qtbot.waitSignal(page.session.sig_done, timeout=240000) as done:
            pass
        _out, err = other.communicate(timeout=60)
    finally:
        kill_group(other)
    assert done.args[1] == "completed", named(page, "Errors", QLabel).text()
    assert other.returncode == 0, err
    assert runs.read_status(run_dir)["state"] == "completed"
    config = runs.read_json(run_dir / runs.CONFIG)
    assert config["batch"]["processes"] == 2
