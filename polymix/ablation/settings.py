"""`AblationSettings`: every knob of a sweep, from flags or an `ablation:` config section.

One schema for both, so a value is checked the same way wherever it came from and an
error names its key (`ablation.proxies`). The sweep's identity (what makes two runs the
same sweep, and a resumed one continue rather than mix results) is `identity()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polymix.core.errors import UserFacingError


class AblationError(UserFacingError, ValueError):
    """A setting, a manifest or an output folder the sweep cannot use; the message names it."""


class AblationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    proxies: int = Field(64, ge=4, description="proxy models to train (mixtures sampled)")
    proxy_model: str = Field("tiny", description="model preset of every proxy")
    steps: int = Field(400, ge=1, description="training steps per proxy")
    seed: int = Field(0, ge=0, description="seeds the mixtures, the proxies and the search")
    concentration: float = Field(
        4.0,
        gt=0,
        description="Dirichlet concentration around the planned weights: small spreads wide",
    )
    objective: dict[str, float] = Field(
        default_factory=dict,
        description="source -> weight of its held-out loss in the objective; empty: all equal",
    )
    folds: int = Field(5, ge=2, description="cross-validation folds over proxies")
    candidates: int = Field(20000, ge=100, description="mixtures scored per search round")
    batch_size: int = Field(8, ge=1, description="global batch size of every proxy")
    eval_batches: int = Field(4, ge=1, description="held-out batches per source per evaluation")
    side_by_side: int = Field(
        1,
        ge=1,
        description="proxies trained together as one vmapped step on one device (1: one by one)",
    )
    train_overrides: tuple[str, ...] = Field(
        (), description="extra key=value for every proxy's trainer (e.g. peak_lr=3e-3)"
    )

    def identity(self) -> dict[str, Any]:
        """What every proxy's result depends on: a resumed sweep must match it.

        `side_by_side` is left out: it changes how proxies are run, not what they learn
        (each proxy's losses are its sequential run's, to float32 rounding), so a sweep
        may be resumed with another K.
        """
        return self.model_dump(
            mode="json", include={"proxies", "proxy_model", "steps", "seed", "concentration"}
        ) | {
            "batch_size": self.batch_size,
            "eval_batches": self.eval_batches,
            "train_overrides": list(self.train_overrides),
        }


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(p) for p in error["loc"])
    return f"ablation.{key}: {error['msg']}"


def build_settings(section: dict[str, Any] | None, flags: dict[str, Any]) -> AblationSettings:
    """The config section's values, then the flags given on the command line over them."""
    values = dict(section or {})
    values.update({k: v for k, v in flags.items() if v is not None})
    try:
        return AblationSettings.model_validate(values)
    except ValidationError as exc:
        raise AblationError(_first_error(exc)) from None


def read_section(path: str | Path) -> dict[str, Any]:
    """The `ablation:` section of a YAML config file (other sections are left to their owners)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise AblationError(f"--config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise AblationError(f"--config {path}: not a mapping of sections")
    section = data.get("ablation", {})
    if not isinstance(section, dict):
        raise AblationError(f"--config {path}: ablation: must be a mapping of keys")
    return section


def parse_objective(text: str) -> dict[str, float]:
    """`name=weight,name=weight` -> {name: weight}; the error names the piece."""
    out: dict[str, float] = {}
    for piece in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = piece.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise AblationError(f"ablation.objective: {piece!r} is not name=weight")
    return out
