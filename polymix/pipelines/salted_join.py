"""Give every member of a group something about its group, with no hot key.

A group here is anything whose members must each meet a fact about the whole group: an
exact-duplicate hash and its kept id, an LSH bucket and its smallest node, a graph node
and the minimum of its neighbourhood, a cluster and its kept document's shingle set. One
group can have 10^8 members (a boilerplate page), so neither the fact nor the members
may be gathered under the group's key:

    (group, (member, contribution)) ─CombinePerKey(WithSalts)─► (group, (summary, salts))
    hub_copies: the summary keyed (group, s) for every occupied salt s     (fan-out)
    member_copy: each member keyed (group, salt(member)), with its payload
    both ─Meet (GroupByKey)─► answer(group, summary, member, payload), members streamed

The combine is lifted (Beam pre-combines each bundle before the shuffle), so a group
costs one accumulator per bundle, whatever its size. The salts a group's members occupy
are collected in the same accumulator, so the summary is copied only to keys that have
members: min(members, SALTS) copies, never more than one per member, and none to empty
keys. A member's salt is a hash of the member, so every copy of a repeated member lands
on one key.

At 1 PB (5x10^11 documents) and for a hot group of 10^8 members, per key:
  combine: one accumulator per bundle, <= 24 + 512 bytes of salts (a bitmap once more than
           32 salts are occupied) + the summary;
  meet:    one summary + ~10^8 / 4096 = 24,400 members (about 1.1 MB of 40-byte ids),
           read as a stream: the worker holds the summary and one member at a time
           (with `distinct`, for members repeated by design: its distinct ones).
Measured for a group of 10^6 (`benchmarks/minhash.py hot`): the fullest salted key holds
306 members (20.5 KB of ids; 722 KB when each carries a ~2.4 KB shingle set), where the
group's key held 10^6 documents (3.8 GB) before. Per member and per group the shuffles carry: the member's (id, contribution) into the
combine once (fewer when a bundle holds several members of one group), and its
(id, payload) into the meet once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import xxhash


class Fold(beam.CombineFn):
    """A pure fold (add, merge) as a CombineFn over `(member, contribution)` elements, so
    the per-node rules stay plain functions testable without Beam."""

    def __init__(self, add: Callable, merge: Callable) -> None:
        self.add = add
        self.merge = merge

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, element):
        return self.add(accumulator, element[1])

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            merged = self.merge(merged, accumulator)
        return merged

    def extract_output(self, accumulator):
        return accumulator


SALTS = 4096
_SMALL = 32  # occupied salts kept as a set up to this many, then as a bitmap
_SALT_SEED = 0x5A17
_HUB, _MEMBER = 0, 1


def salt_of(member: str | tuple) -> int:
    """The key a member meets its group under: a seeded hash of the member's id (for a
    ranked node `(rank, id)`, of the id), so unrelated to any order used on members."""
    if isinstance(member, tuple):
        member = member[-1]
    return xxhash.xxh64_intdigest(member.encode("utf-8"), _SALT_SEED) % SALTS


def _bitmap(salts: Iterable[int]) -> bytearray:
    bitmap = bytearray(SALTS // 8)
    for salt in salts:
        bitmap[salt >> 3] |= 1 << (salt & 7)
    return bitmap


def add_salt(salts: Any, salt: int) -> Any:
    """Occupied salts, a set while small and a SALTS-bit bitmap beyond (mutated in place)."""
    if isinstance(salts, set):
        salts.add(salt)
        return salts if len(salts) <= _SMALL else _bitmap(salts)
    salts[salt >> 3] |= 1 << (salt & 7)
    return salts


def merge_salts(a: Any, b: Any) -> Any:
    if isinstance(a, set) and isinstance(b, set):
        merged = a | b
        return merged if len(merged) <= _SMALL else _bitmap(merged)
    a = a if not isinstance(a, set) else _bitmap(a)
    b = b if not isinstance(b, set) else _bitmap(b)
    return bytearray(x | y for x, y in zip(a, b, strict=True))


def iter_salts(salts: Any) -> Iterator[int]:
    """The occupied salts in increasing order."""
    if isinstance(salts, set | frozenset | tuple | list):
        yield from sorted(salts)
        return
    for byte_index, byte in enumerate(salts):
        while byte:
            low = byte & -byte
            yield byte_index * 8 + low.bit_length() - 1
            byte ^= low


def _frozen(salts: Any) -> Any:
    return tuple(sorted(salts)) if isinstance(salts, set) else bytes(salts)


def _thawed(salts: Any) -> Any:
    return set(salts) if isinstance(salts, tuple) else bytearray(salts)


class WithSalts(beam.CombineFn):
    """`inner` over `(member, contribution)` elements, plus the salts the members occupy.

    An element whose member is None contributes without occupying a salt (a group's own
    state, sent to its key alongside its members). Output: `(inner output, salts)`.
    """

    def __init__(self, inner: beam.CombineFn) -> None:
        self.inner = inner

    def create_accumulator(self) -> list:
        return [self.inner.create_accumulator(), set()]

    def add_input(self, accumulator: list, element: tuple) -> list:
        accumulator[0] = self.inner.add_input(accumulator[0], element)
        if element[0] is not None:
            accumulator[1] = add_salt(accumulator[1], salt_of(element[0]))
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[list]) -> list:
        accumulators = [self._open(a) for a in accumulators]
        inner = self.inner.merge_accumulators(a[0] for a in accumulators)
        salts: Any = set()
        for accumulator in accumulators:
            salts = merge_salts(salts, accumulator[1])
        return [inner, salts]

    def compact(self, accumulator: list) -> tuple:
        accumulator = self._open(accumulator)
        return (self.inner.compact(accumulator[0]), _frozen(accumulator[1]))

    def extract_output(self, accumulator: list) -> tuple:
        accumulator = self._open(accumulator)
        return self.inner.extract_output(accumulator[0]), _frozen(accumulator[1])

    @staticmethod
    def _open(accumulator: Any) -> list:
        if isinstance(accumulator, tuple):  # compacted before a shuffle
            return [accumulator[0], _thawed(accumulator[1])]
        return accumulator


def hub_copies(group: Any, summary: Any, salts: Any) -> Iterator[tuple]:
    """The summary, keyed for each salt the group's members occupy (the fan-out)."""
    for salt in iter_salts(salts):
        yield (group, salt), (_HUB, summary)


def member_copy(group: Any, member: Any, payload: Any = None) -> tuple:
    """A member, keyed to meet its group's summary."""
    return (group, salt_of(member)), (_MEMBER, member, payload)


def _answer(element: tuple, answer: Callable, args: tuple) -> Iterator:
    """Two passes over the key's stream: find its summary, then answer each member."""
    (group, _salt), values = element
    summary = next((v[1] for v in values if v[0] == _HUB), _MISSING)
    if summary is _MISSING:
        return
    for value in values:
        if value[0] == _MEMBER:
            yield from answer(group, summary, value[1], value[2], *args)


_MISSING = object()


class _DistinctMembers(beam.CombineFn):
    """A salted key's summary and its distinct members: repeats collapse in each bundle,
    before the shuffle, so a member sent a million times costs one entry per bundle."""

    def create_accumulator(self) -> list:
        return [_NONE, set()]

    def add_input(self, accumulator: list, value: tuple) -> list:
        if value[0] == _HUB:
            accumulator[0] = value[1]
        else:
            accumulator[1].add((value[1], value[2]))
        return accumulator

    def merge_accumulators(self, accumulators) -> list:
        merged = self.create_accumulator()
        for summary, members in accumulators:
            if summary != _NONE:
                merged[0] = summary
            merged[1].update(members)
        return merged

    def compact(self, accumulator: list) -> tuple:
        return accumulator[0], tuple(accumulator[1])

    def extract_output(self, accumulator) -> tuple:
        summary, members = accumulator
        return summary, sorted(members)


_NONE = "\0none"  # no summary (a plain value: accumulators cross workers)


def _answer_distinct(element: tuple, answer: Callable, args: tuple) -> Iterator:
    (group, _salt), (summary, members) = element
    if summary == _NONE:
        return
    for member, payload in members:
        yield from answer(group, summary, member, payload, *args)


class Meet(beam.PTransform):
    """Every member meets its group's summary on a salted key; `answer` yields the results.

    Input: PCollections of `hub_copies` and `member_copy` elements (several of each may
    be given; flattened here). `answer(group, summary, member, payload, *args)` is a
    generator; members whose group sent no summary are skipped. `outputs` names tagged
    outputs `answer` may yield; the result is then a `DoOutputsTuple` whose `main`
    holds the untagged results.

    Members are streamed by default (the worker holds the summary and one member).
    With `distinct`, a member repeated on its key (same payload) is answered once, and
    the repeats are dropped in each bundle before the shuffle: the key then holds its
    distinct members (about members / 4,096 of the group) instead of a stream. Use it
    where repeats are the rule (edges rewritten by connected components).
    """

    def __init__(
        self,
        answer: Callable[..., Iterable],
        args: tuple[Hashable, ...] = (),
        outputs: tuple[str, ...] = (),
        distinct: bool = False,
    ) -> None:
        super().__init__()
        self.answer = answer
        self.args = args
        self.outputs = outputs
        self.distinct = distinct

    def expand(self, inputs: Iterable[beam.PCollection]):
        both = tuple(inputs) | "Both" >> beam.Flatten()
        if self.distinct:
            grouped = both | "Distinct" >> beam.CombinePerKey(_DistinctMembers())
            answers = beam.FlatMap(_answer_distinct, self.answer, self.args)
        else:
            grouped = both | "Group" >> beam.GroupByKey()
            answers = beam.FlatMap(_answer, self.answer, self.args)
        if self.outputs:
            answers = answers.with_outputs(*self.outputs, main="main")
        return grouped | "Answer" >> answers
