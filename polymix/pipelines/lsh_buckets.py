"""Candidate pairs from LSH buckets, with no bucket gathered on one key.

    input ─explode─► (bucket, (node, payload)) ─Combine[count, 17 smallest, salts]─►
                  │                       small bucket: all pairs │ big bucket: its smallest
                  └► member copies ─Meet(bucket, salt)─► (smallest, member) pairs: a star

A bucket of up to `ALL_PAIRS_MAX_BUCKET` members gives every pair (so a pair missed by
one verification can still meet through another); a bigger one (a boilerplate cluster's
bucket holds all 10^8 of its pages) gives a star from its smallest member, answered on
4,096 salted keys. `pair(a, payload_a, b, payload_b)` turns two members into edges: text
passes them on for verification, media compares the perceptual hashes it carries.
`explode` turns one input element into its (bucket, member) entries (a document's band
keys), and the same step emits each entry's copy for the meet: one step per entry
fewer than a FlatMap followed by a Map.

Per key at 1 PB and for a 10^8-member bucket: one accumulator (count + 17 members +
salts) per bundle in the combine; one smallest member + ~24,400 streamed members in the
meet. Each (bucket, member) crosses twice: into the combine and into the meet, ~40 B +
the payload each time (text: nothing more; media: an 8-byte hash per frame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam

from polymix.pipelines.salted_join import Meet, WithSalts, hub_copies, member_copy
from polymix.transforms.lsh import ALL_PAIRS_MAX_BUCKET, small_bucket_pairs

_HUBS, _COPIES = "hubs", "copies"


class _Smallest(beam.CombineFn):
    """Members counted, and the `keep` smallest (node, payload) members kept."""

    def __init__(self, keep: int) -> None:
        self.keep = keep

    def create_accumulator(self) -> tuple:
        return 0, ()

    def add_input(self, accumulator: tuple, element: tuple) -> tuple:
        count, smallest = accumulator
        if len(smallest) < self.keep:  # no order needed until trimmed or extracted
            return count + 1, smallest + (element,)
        return count + 1, self._trim(smallest + (element,))

    def merge_accumulators(self, accumulators) -> tuple:
        count, merged = 0, ()
        for other_count, smallest in accumulators:
            count += other_count
            merged = self._trim(merged + tuple(smallest))
        return count, merged

    def extract_output(self, accumulator: tuple) -> tuple:
        count, smallest = accumulator
        return count, self._trim(tuple(smallest))

    def _trim(self, members: tuple) -> tuple:
        return tuple(sorted(members, key=lambda m: m[0])[: self.keep])


def _itself(element: tuple) -> tuple:
    return (element,)


class BucketPairs(beam.PTransform):
    """`(bucket, (node, payload))` → whatever `pair` yields for each candidate pair.

    `pair(a, payload_a, b, payload_b)` is called with a < b, once per pair a bucket gives.
    With `explode`, each input element is `explode(element)`'s (bucket, (node, payload))
    entries instead.
    """

    def __init__(
        self,
        pair: Callable[..., Iterator],
        all_pairs_max: int = ALL_PAIRS_MAX_BUCKET,
        explode: Callable[[object], Iterable[tuple]] = _itself,
    ):
        super().__init__()
        self.pair = pair
        self.all_pairs_max = all_pairs_max
        self.explode = explode

    def expand(self, inputs: beam.PCollection) -> beam.PCollection:
        members = inputs | "Members" >> beam.FlatMap(
            _entries_and_copies, self.explode
        ).with_outputs(_COPIES, main="entries")
        summaries = (
            members.entries
            | "Summary" >> beam.CombinePerKey(WithSalts(_Smallest(self.all_pairs_max + 1)))
            | "SmallOrStar"
            >> beam.FlatMap(_small_or_star, self.pair, self.all_pairs_max).with_outputs(
                _HUBS, main="pairs"
            )
        )
        stars = (summaries[_HUBS], members[_COPIES]) | "Star" >> Meet(_star_pair, args=(self.pair,))
        return (summaries.pairs, stars) | "Pairs" >> beam.Flatten()


def _entries_and_copies(element: object, explode: Callable) -> Iterator:
    """Each (bucket, member) entry for the combine, and its copy keyed for the meet."""
    for bucket, member in explode(element):
        yield bucket, member
        yield beam.pvalue.TaggedOutput(_COPIES, member_copy(bucket, member[0], member[1]))


def _small_or_star(element: tuple, pair: Callable, all_pairs_max: int) -> Iterator:
    bucket, ((count, smallest), salts) = element
    if count <= all_pairs_max:
        for a, b in small_bucket_pairs(smallest):
            yield from pair(a[0], a[1], b[0], b[1])
        return
    for copy in hub_copies(bucket, smallest[0], salts):
        yield beam.pvalue.TaggedOutput(_HUBS, copy)


def _star_pair(_bucket, centre: tuple, node: str, payload, pair: Callable) -> Iterator:
    if node != centre[0]:
        yield from pair(centre[0], centre[1], node, payload)
