"""`report_to` (Hugging Face's name): the trackers a run writes its metrics to, checked before
the run starts (the writers are `training.trackers`)."""

from __future__ import annotations

import importlib.util

from .errors import UserError

# report_to: each tracker, the module it needs and how to install it.
REPORT_TO: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", 'pip install "lmstudio-app[tensorboard]"'),
    "trackio": ("trackio", "pip install trackio"),
    "wandb": ("wandb", "pip install wandb"),
    "mlflow": ("mlflow", "pip install mlflow"),
}


def report_to_list(value: str) -> list[str]:
    """The trackers `report_to` names ("none": [], "all": every one installed), each checked:
    UserError(field="report_to") for an unknown name or one whose library is missing (with the
    line that installs it)."""
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if names in ([], ["none"]):
        return []
    if names == ["all"]:
        return [n for n, (mod, _) in REPORT_TO.items() if importlib.util.find_spec(mod)]
    for name in names:
        if name not in REPORT_TO:
            raise UserError(f"report_to={value}: {name!r} is not a tracker; choose from "
                            f"{', '.join(REPORT_TO)}, all or none.", field="report_to",
                            option="tensorboard")
        module, hint = REPORT_TO[name]
        if importlib.util.find_spec(module) is None:
            raise UserError(f"report_to={value}: {module} is not installed; {hint} (or leave "
                            f"{name} out).", field="report_to", option="none")
    return list(dict.fromkeys(names))
