"""Long real trainings: `make test-slow`. They check quality, not just that training runs."""

from __future__ import annotations

import pytest

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.samples import sample_corpus_files
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer


@pytest.mark.slow
def test_baby_shape_reaches_nanogpt_quality_on_characters(tmp_path):
    """nanoGPT's CPU example: characters, 4x4x128, block 64, batch 12, 2,000 steps.

    nanoGPT reaches a validation loss of about 1.95 on Shakespeare there; the bundled Austen
    novels are of the same size and kind, and must reach at least that.
    """
    data = prepare(PrepareConfig(
        sources=[str(p) for p in sample_corpus_files()], out_dir=str(tmp_path / "data"),
        tokenizer=TokenizerSpec(kind="char", vocab_size=400),
    ))
    cfg = build_run_config("clm", "baby", data.vocab_size, {"eval_batches": 50},
                           data_dir=str(data.out_dir))
    sink = RecordingSink()
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "completed", sink.failure
    assert sink.evals[-1].step == 2000
    assert sink.evals[-1].val_loss <= 1.95
