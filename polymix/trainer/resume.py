"""What a resumed run may change: the checks between a checkpoint's meta and a new start.

The learning-rate schedule's length belongs to the run: `decay_steps` is resolved at
the first start (0 means that start's `--steps`) and saved in every checkpoint, so a
resume with a larger `--steps` extends the run on the same schedule (past its end the
rate stays at the floor) instead of silently re-laying the cosine over a new length.
Asking for another explicit `decay_steps` is refused with the saved one named.
"""

from __future__ import annotations

from typing import Any

from polymix.trainer.config import TrainConfig, resume_conflicts
from polymix.trainer.preflight import PreflightError


def run_schedule(saved: TrainConfig) -> int:
    """The decay length the saved run trains with (older checkpoints: their `steps`)."""
    return saved.decay_steps or saved.steps


def check_resume(meta: dict[str, Any], cfg: TrainConfig, fingerprint: str) -> TrainConfig:
    """The config to continue with (the saved schedule), or a refusal naming the key."""
    saved = TrainConfig.from_dict(meta["config"])
    decay = run_schedule(saved)
    if cfg.decay_steps and cfg.decay_steps != decay:
        raise PreflightError(
            f"decay_steps={cfg.decay_steps}: this run's schedule was fixed at decay_steps={decay} "
            "when it started; resume without decay_steps to continue it, or start a new run "
            "(another --checkpoint-dir) to train on a longer schedule"
        )
    now = cfg.replace(decay_steps=decay)
    conflicts = resume_conflicts(saved.replace(decay_steps=decay), now)
    if conflicts:
        listed = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in conflicts.items())
        raise PreflightError(f"cannot resume with changed settings ({listed})")
    if meta.get("manifest_sha256") != fingerprint:
        raise PreflightError(
            "the manifest differs from the one this run started with (sha256 mismatch); "
            "resume needs the same data"
        )
    return now


def schedule_note(cfg: TrainConfig) -> str | None:
    """A line for runs that go past their schedule's end, None otherwise."""
    if cfg.steps <= cfg.total_decay_steps:
        return None
    floor = cfg.peak_lr * cfg.lr_floor_ratio
    return (
        f"note: steps={cfg.steps} runs past decay_steps={cfg.total_decay_steps} (fixed when the "
        f"run started): from step {cfg.total_decay_steps} on the learning rate stays at {floor:g}"
    )
