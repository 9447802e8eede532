"""Objectives: what the one training loop optimises, one file each, and their registry.

The registry maps an objective's name (the rows of `config.OBJECTIVES`) to its class and builds a
run's set-up; the trainer asks it and knows no objective by name. Adding a task is one file
here, one row in config.OBJECTIVES and one panel in the window.
"""

from __future__ import annotations

from pathlib import Path

from ..config import OBJECTIVES, RunConfig, objective_spec
from .base import Batch, Objective, Setup
from .classify import ClassifyObjective
from .clm import CausalLM
from .dpo import DPOObjective
from .finetune_setup import build_finetune_setup
from .mlm import MaskedLM
from .pretrain import LanguageModelObjective, build_pretrain_setup
from .qa_extractive import ExtractiveQAObjective
from .qa_generative import GenerativeQAObjective
from .sft import SFTObjective
from .task import QAObjective, TaskObjective

REGISTRY: dict[str, type[Objective]] = {cls.name: cls for cls in (
    CausalLM, MaskedLM, ClassifyObjective, ExtractiveQAObjective, GenerativeQAObjective,
    SFTObjective, DPOObjective)}
if set(REGISTRY) != set(OBJECTIVES):  # the table and the classes name the same objectives
    raise ImportError(f"objective classes {sorted(REGISTRY)} differ from the table "
                      f"{sorted(OBJECTIVES)}")

__all__ = ["REGISTRY", "Batch", "Objective", "QAObjective", "Setup", "TaskObjective",
           "build_setup", "objective_class", "task_class"]


def objective_class(name: str) -> type[Objective]:
    """The class of the objective `name` (a UserError for an unknown name)."""
    return REGISTRY[objective_spec(name).name]


def task_class(name: str) -> type[TaskObjective]:
    """The class of a fine-tuning task."""
    cls = objective_class(name)
    if not issubclass(cls, TaskObjective):
        raise ValueError(f"{name} is not a fine-tuning task")
    return cls


def build_setup(cfg: RunConfig, run_dir: Path, resume: bool, seed: int) -> Setup:
    """Pretraining reads a token store; a task reads a labeled dataset and a pretrained run."""
    cls = objective_class(cfg.objective)
    if issubclass(cls, TaskObjective):
        return build_finetune_setup(cfg, run_dir, resume, seed, cls)
    if not issubclass(cls, LanguageModelObjective):
        raise ValueError(f"{cfg.objective}: no set-up for this objective")
    return build_pretrain_setup(cfg, run_dir, resume, seed, cls)
