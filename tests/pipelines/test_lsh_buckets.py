"""The bucket summary's members: the smallest ones, in order, however they arrive."""

from __future__ import annotations

import random

from polymix.pipelines.lsh_buckets import _Smallest


def _summary(members: list[tuple], keep: int) -> tuple:
    combine = _Smallest(keep)
    accumulator = combine.create_accumulator()
    for member in members:
        accumulator = combine.add_input(accumulator, member)
    return combine.extract_output(accumulator)


def test_a_bucket_summary_is_its_smallest_members_in_order_whatever_came_first():
    members = [(f"n{i:03d}", None) for i in range(40)]
    for keep in (5, 17, 60):
        shuffled = members[:]
        random.Random(keep).shuffle(shuffled)
        count, smallest = _summary(shuffled, keep)
        assert count == 40
        assert list(smallest) == members[:keep]  # the hub of a big bucket is smallest[0]


def test_merged_summaries_equal_one_summary_of_all_members():
    members = [(f"n{i:03d}", None) for i in range(30)]
    random.Random(1).shuffle(members)
    combine = _Smallest(17)
    parts = [members[:4], members[4:9], members[9:]]
    accumulators = []
    for part in parts:
        accumulator = combine.create_accumulator()
        for member in part:
            accumulator = combine.add_input(accumulator, member)
        accumulators.append(accumulator)
    merged = combine.extract_output(combine.merge_accumulators(accumulators))
    assert merged == _summary(members, 17)
