"""Near-duplicate removal (MinHash LSH): the second dedup step, after exact dedup."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from polymix.core.config.base import Section
from polymix.core.lsh_curve import candidate_probability, cheapest_bands


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
        192,
        ge=2,
        le=1024,
        description=(
            "MinHash permutations (signature length, 4 bytes each). At threshold 0.8 and "
            "`min_recall` 0.95, 189-269 of them give 21 bands x 9 rows; 270 give "
            "27 x 10 (fewer false candidates, 6 more band keys a document)."
        ),
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
    min_recall: float = Field(
        0.95,
        gt=0.0,
        lt=1.0,
        description=(
            "Least chance that a pair exactly at `threshold` becomes a candidate (the LSH "
            "S-curve 1 - (1 - J^rows)^bands there); with `bands` and `rows` unset they are "
            "the split of `num_perm` that reaches it with the fewest false candidates."
        ),
    )
    bands: int | None = Field(
        None,
        ge=1,
        description="LSH bands; with `rows` unset, both are chosen from `min_recall`.",
    )
    rows: int | None = Field(
        None, ge=1, description="Signature rows per LSH band (set with `bands`)."
    )
    verify: bool = Field(
        True,
        description=(
            "Compare candidate pairs on their exact shingle sets (exact Jaccard, ~1.3 KB a "
            "document crosses the shuffle); false compares their MinHash signatures instead "
            "(estimated Jaccard, 4 bytes x num_perm). Pairs below `threshold` are dropped."
        ),
    )
    scope: Literal["global", "source"] = Field(
        "global",
        description="global: duplicates across sources count; source: only within one source.",
    )
    max_rounds: int = Field(
        12,
        ge=1,
        le=64,
        description=(
            "Connected-components rounds unrolled; each is ~31 Beam transforms and 4 shuffles "
            "whether or not anything is left in it (finished clusters leave after each round). "
            "12 finish LSH-like graphs (7 at 10^6 nodes) and chains of ~10^4 documents; a "
            "chain of 10^5 needs 15, of 10^7 19. A cluster still unfinished after the last "
            "round is cut into the stars it reached, each deduplicated on its own against "
            "the floor (a 2,000-page chain with 6 of its 10 rounds keeps 1% more pages; "
            "counter connected_components/unfinished_nodes)."
        ),
    )
    cluster_floor: float | None = Field(
        None,
        ge=0.0,
        lt=1.0,
        description=(
            "A document is removed only if its similarity to the document its cluster keeps "
            "is at least this; members below it are cut into sub-clusters that keep one "
            "document each. Empty: the threshold. 0: no floor (clusters are transitive: "
            "in a chain of pages each like the next, all but one go)."
        ),
    )
    floor_rounds: int = Field(
        4,
        ge=0,
        le=32,
        description=(
            "Rounds that cut members below the floor into sub-clusters (a chain of 10^6 "
            "needs 4); members still uncut after them are kept."
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
        if self.bands is None and self.lsh_params() is None:
            raise ValueError(
                f"num_perm {self.num_perm} cannot reach min_recall {self.min_recall} at "
                f"threshold {self.threshold}: raise num_perm, or set bands and rows"
            )
        return self

    def floor(self) -> float:
        """The similarity to its kept document a removed document must reach."""
        return self.threshold if self.cluster_floor is None else self.cluster_floor

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): the configured ones, else the cheapest that reach `min_recall`."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return cheapest_bands(self.threshold, self.num_perm, self.min_recall)

    def recall_at_threshold(self) -> float:
        """P(candidate) of a pair exactly at `threshold` under the bands in force."""
        bands, rows = self.lsh_params()
        return float(candidate_probability(self.threshold, bands, rows))
