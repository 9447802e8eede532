"""DPO on preference pairs: the file reader's report, TRL's loss and metrics, and real training
of tiny runs (LoRA with adapters disabled as the reference, and a full fine-tune with a frozen
copy)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig
from lmstudio_app.core.data.preference import load_preference, load_preference_splits
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.evaluate import evaluate_file
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.lora_config import LoraSettings
from lmstudio_app.core.objectives.dpo import (
    DPOObjective,
    answer_logps,
    collate_pairs,
    dpo_terms,
    encode_pairs,
    flat_pairs,
    reward_figures,
)
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.lora_fixtures import LABELED, pretrain

PAIRS = LABELED / "preference.jsonl"


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_unusable_pairs_are_reported_by_line(tmp_path):
    path = _write(tmp_path / "p.jsonl", [
        {"prompt": "Q1", "chosen": "yes", "rejected": "no"},
        {"prompt": "Q2", "chosen": "same", "rejected": "same"},
        {"prompt": "Q3", "chosen": "", "rejected": "no"},
        {"prompt": "Q4", "chosen": "a"},
        {"prompt": [{"role": "user", "content": "Q5"}],
         "chosen": [{"role": "assistant", "content": "right"}],
         "rejected": [{"role": "assistant", "content": "wrong"}]},
        {"prompt": "Q6", "chosen": 3, "rejected": "x"},
    ])
    pairs, report = load_preference(path)
    assert [(p.prompt, p.chosen, p.line) for p in pairs] == [("Q1", "yes", 1), ("Q5", "right", 5)]
    reasons = dict(report.skipped)
    assert "chosen equals rejected" in reasons[2]
    assert reasons[3] == "empty chosen" and "rejected" in reasons[4]
    assert "number" in reasons[6]
    assert report.rows_read == 6 and report.rows_used == 2


def test_a_file_with_no_usable_pair_is_one_line(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "a", "rejected": "a"}])
    with pytest.raises(UserError) as err:
        load_preference(path)
    assert "no usable rows" in str(err.value) and "line 1" in str(err.value)
    csv = tmp_path / "p.csv"
    csv.write_text("prompt,chosen\nQ,a\n", encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_preference(csv)
    assert "rejected" in str(err.value) and err.value.field == "rejected_col"


def test_bundled_set_splits_by_prompt():
    split, reports = load_preference_splits(PAIRS)
    assert reports["train"].rows_used == 299 and not reports["train"].skipped
    prompts = [{p.prompt for p in part} for part in (split.train, split.val, split.test)]
    assert not (prompts[0] & prompts[1]) and not (prompts[0] & prompts[2])
    assert all(p.rejected not in p.prompt for p in split.train)


def test_loss_and_rewards_follow_trl_sigmoid_dpo():
    torch.manual_seed(0)
    policy, reference = torch.randn(8), torch.randn(8)  # 4 pairs: chosen, then rejected
    beta = 0.3
    losses, chosen, rejected = dpo_terms(policy, reference, beta)
    pc, pr, rc, rr = policy[:4], policy[4:], reference[:4], reference[4:]
    expected = -F.logsigmoid(beta * ((pc - pr) - (rc - rr)))
    assert torch.allclose(losses, expected)
    assert torch.allclose(chosen, beta * (pc - rc)) and torch.allclose(rejected, beta * (pr - rr))
    figures = reward_figures(chosen, rejected)
    assert figures["rewards/accuracies"] == float((chosen > rejected).float().mean())
    assert figures["rewards/margins"] == pytest.approx(float((chosen - rejected).mean()))


def test_answer_logps_sum_only_the_answer(prepared_data):
    from lmstudio_app.core.config import ModelConfig
    from lmstudio_app.core.data.preference import PreferenceExample
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.models import build_model

    tok = Tokenizer.load(prepared_data / "tokenizer.model")
    model = build_model(ModelConfig(vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16,
                                    block_size=64)).eval()
    pairs = [PreferenceExample("She said", "yes", "no"),
             PreferenceExample("It was a long", "day indeed", "night")]
    x, y = flat_pairs(collate_pairs(encode_pairs(tok, pairs, 64), tok.pad_id))
    assert x.shape[0] == 4
    with torch.no_grad():
        got = answer_logps(model, x, y)
        # One by one, unpadded: the same sums.
        for k, (inputs, targets) in enumerate([encode_pairs(tok, pairs, 64)[i][j]
                                               for j in (0, 1) for i in (0, 1)]):
            logits = model(torch.tensor([inputs]))[0][0]
            logp = torch.log_softmax(logits, -1)
            want = sum(float(logp[t, a]) for t, a in enumerate(targets) if a >= 0)
            assert float(got[k]) == pytest.approx(want, abs=1e-4)


@pytest.fixture(scope="module")
def dpo_base(prepared_data, tmp_path_factory) -> Path:
    return pretrain(prepared_data, "clm", tmp_path_factory.mktemp("dpo") / "gpt")


def _dpo(base: Path, out: Path, steps: int, lora: bool, seed: int = 1337, lr: float = 5e-3):
    ft = FinetuneConfig(task="dpo", train_file=str(PAIRS), base_run=str(base), beta=0.1)
    cfg = make_finetune_config(ft, overrides={
        "max_steps": steps, "eval_interval": steps, "log_interval": 5, "batch_size": 8,
        "learning_rate": lr, "seed": seed})
    cfg.lora = LoraSettings() if lora else None
    cfg.validate()
    result = Trainer(cfg, out, RecordingSink()).run()
    assert result.reason == "completed", result.error
    return result


def _train_scores(run: Path) -> dict[str, float]:
    """DPO's figures of the finished run on (a slice of) its own training pairs."""
    loaded = load_run(run, "latest")
    split, _ = load_preference_splits(PAIRS)
    return DPOObjective.score_examples(loaded.model, loaded.tokenizer, loaded.config,
                                       split.train[:48])


@pytest.mark.parametrize("lora", [True, False])
def test_dpo_lowers_its_loss_and_prefers_the_chosen_answers(lora, dpo_base, tmp_path):
    run = tmp_path / "run"
    _dpo(dpo_base, run, 30, lora, lr=5e-3 if lora else 1e-3)
    evals = [r for r in runs.read_metrics(run) if r.get("kind") == "eval"]
    assert {"rewards/chosen", "rewards/rejected", "rewards/accuracies",
            "rewards/margins"} <= set(evals[-1]["extra"])
    scores = _train_scores(run)
    # The loss fell from log 2 (a policy equal to its reference, as at step 0), and relative
    # to the reference the chosen answers became likelier than the rejected ones.
    assert scores["loss"] < math.log(2)
    assert scores["rewards/margins"] > 0 and scores["rewards/accuracies"] > 0.5
    results = json.loads((run / runs.RESULTS).read_text())
    assert results["task"] == "dpo" and "rewards/accuracies" in results
    # `eval` of a preference file scores the run the same way.
    held = _write(tmp_path / "held.jsonl", [
        {"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
        for p in load_preference_splits(PAIRS)[0].test[:6]])
    scored = evaluate_file(load_run(run, "best"), held)
    assert scored["task"] == "dpo" and scored["data"]["rows_used"] == 6
    assert 0.0 <= scored["rewards/accuracies"] <= 1.0
    if lora:  # the run keeps its adapters alone
        assert (run / runs.WEIGHTS).stat().st_size < (dpo_base / runs.BEST_WEIGHTS).stat().st_size
