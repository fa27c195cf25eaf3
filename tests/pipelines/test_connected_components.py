"""Large-star/small-star components: the per-node steps, and the unrolled Beam graph."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import apache_beam as beam
import pytest

from polymix.pipelines.connected_components import ConnectedComponents
from polymix.transforms.star_cc import (
    components_reference,
    distinct_bounded,
    large_star,
    small_star,
    star_round,
)


def _graphs(seed: int = 0) -> list[tuple[str, str]]:
    """A sorted chain, a shuffled chain, a star, and a sparse random graph, disjoint."""
    rng = random.Random(seed)
    sorted_chain = [(f"a{i:03d}", f"a{i + 1:03d}") for i in range(60)]
    names = [f"b{i:03d}" for i in range(60)]
    rng.shuffle(names)
    shuffled_chain = list(zip(names, names[1:], strict=False))
    star = [("c050", f"c{i:03d}") for i in range(100) if i != 50]
    nodes = [f"d{i:03d}" for i in range(150)]
    sparse = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(120)]
    return sorted_chain + shuffled_chain + star + [(a, b) for a, b in sparse if a != b]


def _rounds_to_converge(edges: list[tuple[str, str]]) -> tuple[int, set[tuple[str, str]]]:
    current, rounds = set(edges), 0
    while (following := star_round(current)) != current:
        current, rounds = following, rounds + 1
    return rounds, current


@pytest.mark.parametrize("seed", range(5))
def test_star_rounds_reach_the_union_find_answer(seed: int):
    edges = _graphs(seed)
    rounds, stars = _rounds_to_converge(edges)
    assert rounds <= 10
    parent = dict(stars)
    assert len(parent) == len(stars)  # one parent per node
    reference = components_reference(edges)
    assert {node: parent.get(node, node) for node in reference} == reference


def test_star_steps_stream_and_tolerate_repeats():
    assert list(distinct_bounded([3, 1, 3, 2, 1, 4, 4], limit=2)) == [3, 1, 2, 4, 4]
    assert sorted(large_star("m", ["z", "a", "z", "q", "b"])) == [("q", "a"), ("z", "a")]
    assert sorted(small_star("m", ["c", "a", "c"])) == [("c", "a"), ("m", "a")]
    assert list(small_star("a", [])) == [] and list(large_star("z", ["a"])) == []


def _run(edges: list[tuple[str, str]], max_rounds: int, tmp_path: Path) -> dict[str, list]:
    with beam.Pipeline() as pipeline:
        result = pipeline | beam.Create(edges) | ConnectedComponents(max_rounds)
        for name, pcoll in result.items():
            _ = (
                pcoll
                | f"Gather{name}" >> beam.combiners.ToList()
                | f"Dump{name}" >> beam.Map(_dump, str(tmp_path / f"{name}.pkl"))
            )
    return {name: pickle.loads((tmp_path / f"{name}.pkl").read_bytes()) for name in result}


def _dump(values: list, path: str) -> None:
    Path(path).write_bytes(pickle.dumps(values))


def test_beam_components_equal_union_find(tmp_path: Path):
    edges = _graphs(1)
    edges += [(b, a) for a, b in edges[::7]]  # repeated edges, either direction
    out = _run(edges, max_rounds=8, tmp_path=tmp_path)
    reference = components_reference(edges)
    members = dict(out["members"])
    assert len(members) == len(out["members"])
    assert members == {node: root for node, root in reference.items() if node != root}
    expected_sizes: dict[str, int] = {}
    for root in reference.values():
        expected_sizes[root] = expected_sizes.get(root, 0) + 1
    assert dict(out["sizes"]) == expected_sizes


def test_too_few_rounds_fail_naming_the_key(tmp_path: Path):
    chain = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(200)]
    with pytest.raises(Exception, match="raise max_rounds"):
        _run(chain, max_rounds=1, tmp_path=tmp_path)


@pytest.mark.slow
def test_default_rounds_cover_a_long_sorted_chain(tmp_path: Path):
    from polymix.core.config.near_dedup import NearDedupConfig

    chain = [(f"n{i:05d}", f"n{i + 1:05d}") for i in range(3000)]
    out = _run(chain, max_rounds=NearDedupConfig().max_rounds, tmp_path=tmp_path)
    assert set(dict(out["members"]).values()) == {"n00000"}
    assert out["sizes"] == [("n00000", 3001)]
