"""`ablation.json`: the sweep's whole record, as a schema, written canonically.

Every proxy's mixture and held-out losses, both fits' cross-validated metrics, the
chosen weights with predicted loss and uncertainty, the planned and uniform weights
(with what the fit predicts for them, the baseline the choice is judged by), and the
seed and settings. Canonical JSON (sorted keys, fixed indent): the same sweep writes
the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polymix.ablation.settings import AblationError

SCHEMA_VERSION = 1
RESULT_NAME = "ablation.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProxyRecord(_Strict):
    index: int = Field(ge=0)
    mixture: dict[str, float]
    losses: dict[str, float]
    predicted: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="fit -> source -> out-of-fold predicted loss"
    )


class Score(_Strict):
    r2: float
    spearman: float


class FitMetrics(_Strict):
    sources: dict[str, Score]
    objective: Score


class Prediction(_Strict):
    weights: dict[str, float]
    predicted_loss: float
    predicted_losses: dict[str, float]
    uncertainty: float = Field(description="std of the objective over the CV fold models")
    uncertainty_losses: dict[str, float]


class AblationResult(_Strict):
    schema_version: int = SCHEMA_VERSION
    manifest_sha256: str
    seed: int
    settings: dict
    sources: list[str]
    scored: list[str] = Field(
        default_factory=list, description="sources with a held-out loss (the fits' targets)"
    )
    objective: dict[str, float] = Field(description="weight of each source's loss")
    caps: dict[str, float] = Field(description="largest share each source may have")
    proxies: list[ProxyRecord]
    fits: dict[str, FitMetrics]
    selected_fit: str
    chosen: Prediction
    planned: Prediction
    uniform: Prediction

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def load_result(path: str | Path) -> AblationResult:
    """An `ablation.json`; a missing or malformed one is one line naming the file."""
    try:
        return AblationResult.model_validate_json(Path(path).read_text())
    except OSError as exc:
        raise AblationError(f"{path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        raise AblationError(f"{path}: {where}: {error['msg']}") from None
