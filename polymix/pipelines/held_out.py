"""Split the kept records into training and held-out (eval) records, by example id.

The split runs where records become shard items, after every stage that can drop an
example: dedup has already kept one member of each exact and near-duplicate cluster
and removed the rest, so the survivors are pairwise below the near-duplicate
threshold. Deciding by the survivor's id therefore sends each cluster wholly to one
side: no held-out example has a near-duplicate among the training ones (its copies
are in `duplicates/`, trained on by nobody). A document's records share its id, so a
long document is never half held out.

The decision is `transforms.held_out.is_held_out`, a pure function of (source, id,
fraction, salt): no runner, worker count or bundle enters, so the same run gives the
same eval shards anywhere.

Scale: a per-element `Partition`: no GroupByKey, combine or side input is added, and
no shuffle; one worker holds one record at a time. The eval records (~0.5% of the
kept, ~7.5x10^8 documents at 1 PB) go through their own `WriteGroupedFiles`, whose
per-source file count is the only figure gathered (one integer per source); a hot key
of 10^8 copies never reaches this stage (exact dedup kept one).
"""

from __future__ import annotations

import apache_beam as beam

from polymix.core.config.eval import EvalConfig
from polymix.transforms.example import TokenizedRecord
from polymix.transforms.held_out import is_held_out

TRAIN, EVAL = 0, 1


def _side(record: TokenizedRecord, _: int, fraction: float, salt: str) -> int:
    return EVAL if is_held_out(record.source, record.example_id, fraction, salt) else TRAIN


class SplitHeldOut(beam.PTransform):
    """PCollection[TokenizedRecord] → {"train": ..., "eval": ...}, decided per example."""

    def __init__(self, config: EvalConfig):
        super().__init__()
        self.config = config

    def expand(self, records):
        fraction, salt = self.config.fraction, self.config.salt
        train, held_out = records | "Side" >> beam.Partition(_side, 2, fraction, salt)
        return {"train": train, "eval": held_out}


def eval_shard_name(group: tuple[str, ...], index: int, count: int) -> str:
    """`eval/<source>/<source>-00000-of-00001.array_record`: named like training shards."""
    (source,) = group
    return f"eval/{source}/{source}-{index:05d}-of-{count:05d}.array_record"
