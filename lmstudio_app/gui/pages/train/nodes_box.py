"""The Train page's "Nodes" row, under Processes: how many machines a run spans.

One (the default) trains on this machine alone. More run the job under torchrun's multi-node
rendezvous: this machine is node 0 (it writes the run folder; the address the others reach it
at and a free port are asked for here), and once Start has launched it, the row shows the
command each other machine runs, with a button that copies it. The run's configuration and
folder go beside each other in the runs folder, which the machines share.
"""

from __future__ import annotations

import socket

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ...process_session import NodeSpec

MAX_NODES = 256
TOOLTIP = ("Train on this many machines (torchrun's multi-node rendezvous). This machine is "
           "node 0 and writes the run; every machine runs the Processes count, and each step's "
           "batch is shared out among all of them. The runs folder and the data must be on a "
           "filesystem every machine mounts at the same path.")


class NodesBox(QWidget):
    """Nodes count; with more than one, node 0's address and port, and after Start the command
    for the other machines (read-only, copyable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, MAX_NODES)
        self.count.setAccessibleName("Nodes")
        self.count.setToolTip(TOOLTIP)
        self.address = QLineEdit(socket.gethostname())
        self.address.setAccessibleName("Address of node 0")
        self.address.setToolTip("The host name or IP address the other machines reach this "
                                "one at")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(NodeSpec().master_port)
        self.port.setAccessibleName("Port")
        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setAccessibleName("Command for the other machines")
        self.command.setPlaceholderText("Start the run: the command for the other machines "
                                        "appears here.")
        self.command.setMaximumHeight(72)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the command for the other machines")
        self.copy_button.clicked.connect(self.copy)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.count, 0, 0)
        self._address_label = QLabel("node 0 at")
        grid.addWidget(self._address_label, 0, 1)
        grid.addWidget(self.address, 0, 2)
        grid.addWidget(self.port, 0, 3)
        grid.addWidget(self.command, 1, 0, 1, 3)
        grid.addWidget(self.copy_button, 1, 3)
        self.count.valueChanged.connect(self._on_count)
        self._on_count()

    def _on_count(self) -> None:
        many = self.count.value() > 1
        for w in (self._address_label, self.address, self.port, self.command, self.copy_button):
            w.setVisible(many)
        self.show_command("")

    def spec(self) -> NodeSpec:
        """The machines the next run spans."""
        return NodeSpec(self.count.value(), self.address.text().strip(), self.port.value())

    def problem(self) -> str | None:
        """Why these settings cannot start a run (one line), or None."""
        if self.count.value() > 1 and not self.address.text().strip():
            return "Nodes: give the address the other machines reach this one at."
        return None

    def show_command(self, text: str) -> None:
        self.command.setPlainText(text)
        self.copy_button.setEnabled(bool(text))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command.toPlainText())

    def set_editable(self, on: bool) -> None:
        for w in (self.count, self.address, self.port):
            w.setEnabled(on)
