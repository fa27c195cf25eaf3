"""Large-star/small-star components: the per-node rules, and the unrolled Beam graph."""

from __future__ import annotations

import math
import pickle
import random
from pathlib import Path

import apache_beam as beam
import pytest

from polymix.pipelines.connected_components import ConnectedComponents
from polymix.transforms.star_cc import (
    components_by_rounds,
    components_reference,
    rank,
)


def _graphs(seed: int = 0) -> list[tuple[str, str]]:
    """A sorted chain, a shuffled chain, a star, a clique and a sparse random graph."""
    rng = random.Random(seed)
    sorted_chain = [(f"a{i:03d}", f"a{i + 1:03d}") for i in range(60)]
    names = [f"b{i:03d}" for i in range(60)]
    rng.shuffle(names)
    shuffled_chain = list(zip(names, names[1:], strict=False))
    star = [("c050", f"c{i:03d}") for i in range(100) if i != 50]
    clique = [(f"e{i}", f"e{j}") for i in range(12) for j in range(i)]
    nodes = [f"d{i:03d}" for i in range(150)]
    sparse = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(120)]
    edges = sorted_chain + shuffled_chain + star + clique + sparse
    return [(a, b) for a, b in edges if a != b]


def _ranked_reference(edges: list[tuple[str, str]]) -> dict[str, str]:
    """Union-find labels with "smallest" meaning smallest rank, as the pipeline orders."""
    reference = components_reference([(rank(a), rank(b)) for a, b in edges])
    return {node[1]: root[1] for node, root in reference.items()}


@pytest.mark.parametrize("seed", range(5))
def test_star_rounds_reach_the_union_find_answer(seed: int):
    edges = _graphs(seed)
    labels, rounds, left = components_by_rounds([(rank(a), rank(b)) for a, b in edges], 30)
    assert left == set() and rounds <= 12
    assert {n[1]: r[1] for n, r in labels.items()} == _ranked_reference(edges)


def test_sorted_chains_converge_in_logarithmic_rounds():
    """Ranked by hash, ids sorted along a chain are no worst case: rounds grow as log n."""
    for n in (256, 1024, 4096):
        chain = [(rank(f"p{i:07d}"), rank(f"p{i + 1:07d}")) for i in range(n)]
        labels, rounds, left = components_by_rounds(chain, 64)
        assert left == set() and len(labels) == n + 1
        assert rounds <= 1.1 * math.log2(n), (n, rounds)


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
    labels = _labels_of(edges, max_rounds=12, tmp_path=tmp_path)
    assert labels == _ranked_reference(edges)


def test_a_sorted_chain_converges_in_the_rounds_a_random_one_needs(tmp_path: Path):
    """The 1.1M-node sorted chain that needed 21 rounds (one more than the default), scaled
    down: ids sorted along 1,000 nodes needed 10; ranked by hash, 9 (a lowered default)
    finish it."""
    chain = [(f"n{i:05d}", f"n{i + 1:05d}") for i in range(1000)]
    labels = _labels_of(chain, max_rounds=9, tmp_path=tmp_path)
    assert labels == _ranked_reference(chain)


@pytest.mark.slow
def test_default_rounds_cover_a_long_sorted_chain(tmp_path: Path):
    """The default's promise for long chains: 8,000 nodes sorted along the chain need 12."""
    from polymix.core.config.near_dedup import NearDedupConfig

    chain = [(f"n{i:05d}", f"n{i + 1:05d}") for i in range(8000)]
    labels = _labels_of(chain, max_rounds=NearDedupConfig().max_rounds, tmp_path=tmp_path)
    assert labels == _ranked_reference(chain)


def _graph_size(max_rounds: int) -> tuple[int, int]:
    """(transforms, shuffles) of the components graph as the runner is handed it."""
    from apache_beam.portability import common_urns

    pipeline = beam.Pipeline()
    _ = pipeline | beam.Create([("a", "b")]) | ConnectedComponents(max_rounds)
    transforms = pipeline.to_runner_api().components.transforms.values()
    gbk = common_urns.primitives.GROUP_BY_KEY.urn
    return len(transforms), sum(t.spec.urn == gbk for t in transforms)


def test_each_round_stays_four_shuffles_and_31_transforms():
    """Every unrolled round is a fixed cost on every runner, used or not (~0.3 CPU-s on
    DirectRunner): a round grown back to more steps costs that in every run."""
    (t3, s3), (t4, s4) = _graph_size(3), _graph_size(4)
    assert s4 - s3 == 4
    assert t4 - t3 <= 31, t4 - t3
    from polymix.core.config.media import PerceptualDedupConfig
    from polymix.core.config.near_dedup import NearDedupConfig

    assert NearDedupConfig().max_rounds <= 12 and PerceptualDedupConfig().max_rounds <= 12


def _labels_of(edges: list[tuple[str, str]], max_rounds: int, tmp_path: Path) -> dict[str, str]:
    out = _run(edges, max_rounds, tmp_path)
    labels = dict(out["labels"])
    assert len(labels) == len(out["labels"])  # one label per node
    return labels


def test_too_few_rounds_cut_the_rest_into_stars_instead_of_failing(tmp_path: Path):
    """Running out of rounds must not fail the job after the whole stage ran: what has not
    converged is cut into the stars reached so far (each inside one component)."""
    chain = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(200)]
    labels = _labels_of(chain, max_rounds=2, tmp_path=tmp_path)
    assert set(labels) == {f"n{i:03d}" for i in range(201)}
    assert 1 < len(set(labels.values())) < 201  # cut, but not into singletons


def test_converged_components_stop_shuffling(monkeypatch, tmp_path: Path):
    """LSH graphs are small stars and short paths: they finish in a few rounds, after which
    no round groups anything, however many rounds are unrolled."""
    from tests.support.group_probe import probe_groups

    rng = random.Random(2)
    edges = []
    for c in range(150):
        size = rng.randint(2, 6)
        nodes = [f"c{c:03d}-{rng.randrange(10**6):06d}" for _ in range(size)]
        edges += (
            [(nodes[0], n) for n in nodes[1:]]
            if c % 2
            else list(zip(nodes, nodes[1:], strict=False))
        )
    stats = probe_groups(monkeypatch)
    labels = _labels_of(edges, max_rounds=10, tmp_path=tmp_path)
    assert labels == _ranked_reference(edges)
    late = {label for label, n in stats.per_label.items() if n and _round_of(label) >= 6}
    assert late == set(), late
    assert stats.values <= 12 * len(edges), (stats.values, len(edges))


def _round_of(label: str) -> int:
    digits = [int(part[-2:]) for part in label.replace("/", " ").split() if part[-2:].isdigit()]
    return digits[0] if digits else -1


@pytest.mark.parametrize(("rounds", "warned"), [(2, True), (12, False)])
def test_a_run_whose_rounds_ran_out_says_so(rounds: int, warned: bool):
    """The cut keeps dedup correct but keeps more documents: the user is told, with the key."""
    from polymix.corpus_run import unconverged_notices

    chain = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(200)]
    pipeline = beam.Pipeline()
    _ = pipeline | beam.Create(chain) | ConnectedComponents(rounds)
    result = pipeline.run()
    result.wait_until_finish()
    notices = unconverged_notices(result)
    assert bool(notices) == warned, notices
    if warned:
        assert "near_dedup.max_rounds" in notices[0] and "documents" in notices[0]
