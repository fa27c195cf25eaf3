"""Near-duplicate removal (MinHash LSH): the second dedup step, after exact dedup."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from polymix.core.config.base import Section


class NearDedupConfig(Section):
    enabled: bool = Field(
        True, description="Remove near-duplicate text documents (MinHash LSH) after exact dedup."
    )
    threshold: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="Jaccard similarity of word n-gram sets above which two documents are duplicates.",
    )
    num_perm: int = Field(
        128, ge=2, le=1024, description="MinHash permutations (signature length, 4 bytes each)."
    )
    ngram: int = Field(5, ge=1, le=64, description="Words per shingle.")
    seed: int = Field(
        1, ge=0, lt=2**32, description="Seed of the MinHash permutations (datasketch's `seed`)."
    )
    hash_function: Literal["xxh32", "sha1_32"] = Field(
        "xxh32",
        description=(
            "Shingle hash: xxh32 (fast, compiled) or sha1_32 (datasketch's own default, "
            "for signatures that must match sketches made with plain datasketch)."
        ),
    )
    bands: int | None = Field(
        None,
        ge=1,
        description="LSH bands; with `rows` unset, both are chosen from `threshold` as datasketch does.",
    )
    rows: int | None = Field(
        None, ge=1, description="Signature rows per LSH band (set with `bands`)."
    )
    verify: bool = Field(
        True,
        description="Check every candidate pair's exact shingle-set Jaccard and drop false positives.",
    )
    scope: Literal["global", "source"] = Field(
        "global",
        description="global: duplicates across sources count; source: only within one source.",
    )
    max_rounds: int = Field(
        20,
        ge=1,
        le=64,
        description=(
            "Large-star/small-star rounds unrolled for connected components (a sorted chain "
            "of 100k documents needs 17); the run fails naming this key if they do not suffice."
        ),
    )
    batch_size: int = Field(
        512, ge=1, description="Documents hashed per MinHash batch (memory ~ batch x text size)."
    )

    @model_validator(mode="after")
    def _bands_and_rows(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both `bands` and `rows`, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands * self.rows} exceeds num_perm {self.num_perm}"
            )
        return self

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): the configured ones, else datasketch's optimum for `threshold`."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        from polymix.transforms.lsh import optimal_bands

        return optimal_bands(self.threshold, self.num_perm)

    def scheme(self) -> dict[str, Any]:
        """The `minhash` entry of manifest.json: enough to recompute or query the signatures."""
        from polymix.transforms.minhash import MinHasher

        bands, rows = self.lsh_params()
        hasher = MinHasher(
            num_perm=self.num_perm,
            seed=self.seed,
            ngram=self.ngram,
            hash_function=self.hash_function,
        )
        return {
            **hasher.scheme(),
            "bands": bands,
            "rows": rows,
            "threshold": self.threshold,
            "verify": self.verify,
            "scope": self.scope,
        }
