"""Quality filters: heuristic rule sets and fastText classifiers, each tagging then deciding.

One module per rule set (Gopher quality, Gopher repetition, C4, FineWeb, code, language ID,
quality classifier, PII) and the user stages `plugins` imports; `stages.run_stages` composes
them. Nothing here imports Beam or JAX.
"""

from polymix.transforms.filters.stages import (
    STAGE_CLASSES,
    Verdict,
    build_named_stages,
    build_stages,
    load_models,
    run_stages,
)

__all__ = [
    "STAGE_CLASSES",
    "Verdict",
    "build_named_stages",
    "build_stages",
    "load_models",
    "run_stages",
]
