"""Near-duplicate pairs of an in-memory batch: the near-dedup core without Beam.

The same steps as `polymix/pipelines/near_dedup.py` on one machine: `MinHasher`
signatures and shingle sets, `band_keys` buckets, every pair of a small bucket and a
star from the smallest member of a big one (`ALL_PAIRS_MAX_BUCKET`), then exact (or
estimated) Jaccard against the threshold. It holds every document's sketch, so it is
for measuring the S-curve and for benchmarks, not for a corpus that does not fit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.transforms.lsh import ALL_PAIRS_MAX_BUCKET, band_keys
from polymix.transforms.minhash import MinHasher, estimated_jaccard, exact_jaccard

_NO_WORDS = 0xFFFFFFFF


def candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """(i, j), i < j, of documents sharing a band, as the Beam buckets give them."""
    buckets: dict[bytes, list[int]] = defaultdict(list)
    for i, signature in enumerate(signatures):
        if np.all(signature == _NO_WORDS):
            continue  # no words: never compared
        for key in band_keys(signature, bands, rows):
            buckets[key].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) <= ALL_PAIRS_MAX_BUCKET:
            pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :])
        else:
            pairs.update((members[0], b) for b in members[1:])
    return pairs


def near_duplicate_pairs(
    texts: Sequence[str], config: NearDedupConfig
) -> dict[tuple[int, int], float]:
    """{(i, j): similarity} of candidate pairs at or above `config.threshold`."""
    hasher = MinHasher(
        num_perm=config.num_perm,
        seed=config.seed,
        ngram=config.ngram,
        hash_function=config.hash_function,
    )
    hashes, offsets = hasher.shingle_hashes(texts)
    signatures = hasher.signatures_from_hashes(hashes, offsets)
    bands, rows = config.lsh_params()
    found: dict[tuple[int, int], float] = {}
    sets: dict[int, np.ndarray] = {}
    for a, b in sorted(candidate_pairs(signatures, bands, rows)):
        if config.verify:
            for i in (a, b):
                if i not in sets:
                    sets[i] = np.unique(hashes[offsets[i] : offsets[i + 1]])
            score = exact_jaccard(sets[a], sets[b])
        else:
            score = estimated_jaccard(signatures[a], signatures[b])
        if score >= config.threshold:
            found[(a, b)] = score
    return found
