"""Without the optional extra the commands say how to install it (one line, exit 2)."""

from __future__ import annotations

import sys

import pytest

from lmstudio_app.cli.main import main
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.interchange.staging import require_gguf, require_transformers

INSTALL = "pip install 'lmstudio-app[hf]'"


def test_missing_libraries_name_the_extra(monkeypatch, tmp_path, capsys):
    for name in ("transformers", "gguf", "tokenizers"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    for require in (require_transformers, require_gguf):
        with pytest.raises(UserError, match=INSTALL.replace("[", r"\[").replace("]", r"\]")):
            require()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"model_type": "gpt2"}')
    assert main(["import", "--hf", str(tmp_path / "model"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and INSTALL in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
