"""polymix: raw multimodal corpora -> filtered, deduplicated, tokenized shards -> a MoE trainer.

The public Python API. Every name is imported on first use (PEP 562), so `import polymix`
costs nothing and pulls in neither Beam nor JAX; `polymix.run` imports Beam when called,
`polymix.make_loader` imports grain and JAX when called.

    manifest = polymix.run("my.yaml", "out/", runner="DirectRunner")
    loader = polymix.make_loader(manifest, seq_len=2048, global_batch_size=8, seed=0)
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # running and checking a corpus job
    "run": "polymix.api",
    "verify": "polymix.api",
    "load_config": "polymix.core.config",
    "Config": "polymix.core.config",
    "load_manifest": "polymix.core.manifest",
    "Manifest": "polymix.core.manifest",
    "UserFacingError": "polymix.core.errors",
    # training input
    "make_loader": "polymix.trainer.data.loader",
    # per-example pieces
    "MinHasher": "polymix.transforms.minhash",
    "Stage": "polymix.transforms.filters.base",
    "Tags": "polymix.transforms.filters.base",
    "Cut": "polymix.transforms.filters.base",
    "DocView": "polymix.transforms.filters.text",
    "Language": "polymix.transforms.filters.language",
    "GopherRepetition": "polymix.transforms.filters.gopher_repetition",
    "GopherQuality": "polymix.transforms.filters.gopher_quality",
    "C4": "polymix.transforms.filters.c4",
    "FineWeb": "polymix.transforms.filters.fineweb",
    "Code": "polymix.transforms.filters.code",
    "QualityClassifier": "polymix.transforms.filters.quality_classifier",
    "PII": "polymix.transforms.filters.pii",
    "build_stages": "polymix.transforms.filters.stages",
    "run_stages": "polymix.transforms.filters.stages",
    # Beam PTransforms, to compose a pipeline of one's own
    "ReadTextSource": "polymix.pipelines.read",
    "NormalizeText": "polymix.pipelines.normalize",
    "TextDuplicates": "polymix.pipelines.text_dedup",
    "QualityFilters": "polymix.pipelines.quality",
    "Decontaminate": "polymix.pipelines.decontaminate",
    "TokenizeText": "polymix.pipelines.tokenize",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polymix' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute read
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
