"""NearDuplicates on a generated corpus whose true Jaccard is known by brute force.

Expected levels come from the LSH S-curve: a pair of Jaccard s becomes a candidate with
probability P(s) = 1 - (1 - s**r)**b. With the default 192 permutations at threshold
0.8 that is b=21, r=9: P(0.70)=0.58, P(0.80)=0.95, P(0.85)=0.996, P(0.90)=1.0. So
pair recall (verified edges) is asserted against the corpus' own mean of P over its true
pairs, and false removals without verification
against the expected number of candidate pairs below the threshold.
"""

from __future__ import annotations

import math
import pickle
import random
from itertools import combinations
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.pipelines.dedup_alone import NearDuplicates
from polymix.pipelines.near_dedup import CLUSTER_SIZE_ATTRIBUTE, STAGE
from polymix.transforms.example import Duplicate, Example
from polymix.transforms.lsh import collision_probability
from polymix.transforms.minhash import MinHasher, manifest_scheme
from tests.support.group_probe import collect, probe_groups

_BOILERPLATE = [
    "Copyright 2024 Example Media Group. All rights reserved.",
    "Subscribe to our newsletter for weekly updates!",
    "Posted by admin in Uncategorized | 3 comments",
]


def _vocabulary(rng: random.Random, n: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "ar", "ex", "po"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _edit(words: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    """Substitute, delete or insert words at `rate`; sometimes swap halves or add boilerplate."""
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue
        if roll < 2 * rate / 3:
            out.append(rng.choice(vocab))
        elif roll < rate:
            out.extend([word, rng.choice(vocab)])
        else:
            out.append(word)
    if rng.random() < 0.2:
        half = len(out) // 2
        out = out[half:] + out[:half]
    if rng.random() < 0.3:
        out = rng.choice(_BOILERPLATE).split() + out
    return out


def _example(doc_id: str, words: list[str], source: str = "web") -> Example:
    return Example(source=source, id=doc_id, modality="text", text=" ".join(words))


def near_dup_corpus(seed: int = 0, clusters: int = 60, unique: int = 120) -> list[Example]:
    """Clusters of edited copies (edit rates 0-8%) plus unrelated documents; random ids."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    documents: list[list[str]] = []
    for _ in range(clusters):
        base = rng.choices(vocab, weights, k=rng.randint(150, 400))
        documents.append(base)
        for _ in range(rng.randint(1, 5)):
            documents.append(_edit(base, rng.choice([0.0, 0.01, 0.02, 0.04, 0.08]), vocab, rng))
    for _ in range(unique):
        documents.append(rng.choices(vocab, weights, k=rng.randint(50, 400)))
    ids = rng.sample(range(10**6), len(documents))
    return [_example(f"doc{i:06d}", words) for i, words in zip(ids, documents, strict=True)]


def chain_and_big_cluster(seed: int = 1) -> list[Example]:
    """A chain (neighbours ~0.85, ends far below 0.8) and a 60-copy cluster."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    words = rng.choices(vocab, k=900)
    chain = []
    for step in range(6):  # slide a 300-word window by 20 words a step
        chain.append(words[step * 20 : step * 20 + 300])
    order = [3, 1, 5, 0, 4, 2]  # ids not in chain order: the smallest sits mid-chain
    examples = [_example(f"chain{order[i]}", w) for i, w in enumerate(chain)]
    base = rng.choices(vocab, k=300)
    for copy in range(60):
        edited = base[:]
        edited[rng.randrange(len(edited))] = rng.choice(vocab)
        examples.append(_example(f"big{(copy * 37) % 60:02d}", edited))
    return examples


# The graphs here are small (clusters of <= 60, a 200-page chain), done in under 10
# rounds; unrolling the default 24 would only cost DirectRunner time.
_FAST = {"max_rounds": 12}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _run(
    examples: list[Example],
    config: NearDedupConfig,
    path: Path,
    options: PipelineOptions | None = None,
) -> tuple[list[Example], list[Duplicate], dict[str, int]]:
    pipeline = beam.Pipeline(options=options)
    out = pipeline | beam.Create(examples, reshuffle=False) | NearDuplicates(config)
    for name in ("kept", "duplicates"):
        _ = (
            out[name]
            | f"Gather{name}" >> beam.combiners.ToList()
            | f"Dump{name}" >> beam.Map(_dump, str(path / f"{name}.pkl"))
        )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(STAGE))[
            "counters"
        ]
    }
    return (
        pickle.loads((path / "kept.pkl").read_bytes()),
        pickle.loads((path / "duplicates.pkl").read_bytes()),
        counters,
    )


def _dump(values: list, path: str) -> None:
    Path(path).write_bytes(pickle.dumps(values))


def _cluster_of(kept: list[Example], duplicates: list[Duplicate]) -> dict[str, str]:
    cluster = {e.id: e.id for e in kept}
    cluster.update({d.example.id: d.kept_id for d in duplicates})
    return cluster


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return near_dup_corpus()


@pytest.fixture(scope="module")
def truth(corpus) -> dict[tuple[str, str], float]:
    hasher = MinHasher()
    sets = {e.id: set(hasher.shingles(e.text)) for e in corpus}
    return {(a, b): _jaccard(sets[a], sets[b]) for a, b in combinations(sorted(sets), 2)}


@pytest.fixture(scope="module")
def verified_run(corpus, tmp_path_factory):
    return _run(corpus, NearDedupConfig(**_FAST), tmp_path_factory.mktemp("verified"))


def test_every_input_comes_out_once(corpus, verified_run):
    kept, duplicates, counters = verified_run
    out_ids = [e.id for e in kept] + [d.example.id for d in duplicates]
    assert sorted(out_ids) == sorted(e.id for e in corpus)
    assert counters["documents"] == len(corpus)
    assert counters["kept"] == len(kept) and counters["duplicates"] == len(duplicates)
    assert all(d.stage == STAGE and 0.0 <= d.similarity <= 1.0 for d in duplicates)
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    for kept_id in {d.kept_id for d in duplicates}:
        assert sizes[kept_id] == 1 + sum(d.kept_id == kept_id for d in duplicates)


def test_recall_and_precision_meet_minhash_theory(truth, verified_run):
    kept, duplicates, counters = verified_run
    cluster = _cluster_of(kept, duplicates)
    true_pairs = {pair: s for pair, s in truth.items() if s >= 0.8}
    assert len(true_pairs) >= 150
    bands, rows = NearDedupConfig().lsh_params()
    p = [collision_probability(s, bands, rows) for s in true_pairs.values()]
    expected = sum(p) / len(p)
    spread = math.sqrt(sum(x * (1 - x) for x in p)) / len(p)
    # Verified edges are the distinct candidate pairs at or above the threshold. (Sharing
    # a cluster is no measure of it: the floor cuts members unlike the kept document.)
    found = counters["verified_edges"] / len(true_pairs)
    assert expected - 3 * spread <= found <= 1.0, (found, expected, spread)
    assert sum(cluster[a] == cluster[b] for a, b in true_pairs) >= 0.9 * len(true_pairs)
    # Verified: every removed document has a true neighbour >= 0.8 in its cluster.
    neighbours = {a for pair in true_pairs for a in pair}
    removed = [d.example.id for d in duplicates]
    assert all(doc in neighbours for doc in removed)


# A chain needs neighbours found almost surely (J ~0.87) while its ends stay below the
# threshold, which the steep default curve (P(0.87)=0.80) cannot promise: 32 bands of 4
# rows can (P(0.87)=1 - 2e-12), at the price of many false candidates that verification
# then drops.
_WIDE = NearDedupConfig(bands=32, rows=4, **_FAST)


@pytest.fixture(scope="module")
def wide_run(corpus, tmp_path_factory):
    return _run(corpus + chain_and_big_cluster(), _WIDE, tmp_path_factory.mktemp("wide"))


def test_clusters_keep_smallest_id_and_cut_chains_at_the_floor(wide_run):
    hasher = MinHasher()
    chain = {e.id: set(hasher.shingles(e.text)) for e in chain_and_big_cluster() if "chain" in e.id}
    assert _jaccard(chain["chain3"], chain["chain1"]) > 0.85  # neighbours (positions 0, 1)
    assert _jaccard(chain["chain3"], chain["chain5"]) < 0.8  # two steps apart: not similar
    assert _jaccard(chain["chain3"], chain["chain2"]) < 0.6  # the two ends
    kept, duplicates, counters = wide_run
    cluster = _cluster_of(kept, duplicates)
    assert {cluster[f"big{i:02d}"] for i in range(60)} == {"big00"}
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    assert sizes["big00"] == 60
    assert cluster["chain0"] == "chain0"  # the chain's smallest id is kept
    for duplicate in duplicates:
        if duplicate.example.id.startswith("chain"):
            truth = _jaccard(chain[duplicate.example.id], chain[duplicate.kept_id])
            assert truth >= 0.8 and duplicate.similarity == pytest.approx(truth)
    assert 2 <= len({cluster[f"chain{i}"] for i in range(6)}) <= 4
    assert counters["false_positive_edges"] > 0  # the wide bands' price, paid by verification


def test_without_a_floor_clusters_are_transitive(tmp_path):
    config = NearDedupConfig(bands=32, rows=4, cluster_floor=0.0, **_FAST)
    kept, duplicates, _ = _run(chain_and_big_cluster(), config, tmp_path)
    cluster = _cluster_of(kept, duplicates)
    assert {cluster[f"chain{i}"] for i in range(6)} == {"chain0"}
    assert {cluster[f"big{i:02d}"] for i in range(60)} == {"big00"}


def test_without_verification_false_removals_stay_within_theory(corpus, truth, tmp_path):
    kept, duplicates, counters = _run(corpus, NearDedupConfig(verify=False, **_FAST), tmp_path)
    assert counters["verified_edges"] > 0  # compared on their signatures, not shingle sets
    bands, rows = NearDedupConfig().lsh_params()
    below = [s for s in truth.values() if s < 0.8]
    expected_false_edges = sum(collision_probability(s, bands, rows) for s in below)
    neighbours = {a for pair, s in truth.items() if s >= 0.8 for a in pair}
    false_removals = sum(d.example.id not in neighbours for d in duplicates)
    assert false_removals <= expected_false_edges + 3 * math.sqrt(expected_false_edges) + 1
    precision = 1 - false_removals / len(duplicates)
    assert precision >= 0.95, (precision, expected_false_edges)


def test_result_independent_of_order_and_workers(corpus, wide_run, tmp_path):
    shuffled = corpus + chain_and_big_cluster()
    random.Random(5).shuffle(shuffled)
    options = PipelineOptions(direct_num_workers=2, direct_running_mode="multi_processing")
    again = _run(shuffled, _WIDE, tmp_path, options)

    def canonical(run):
        kept, duplicates, _ = run
        return (
            sorted((e.id, sorted(e.attributes.items())) for e in kept),
            sorted((d.example.id, d.kept_id, d.similarity) for d in duplicates),
        )

    assert canonical(again) == canonical(wide_run)


def test_config_bands_and_scheme():
    assert NearDedupConfig().lsh_params() == (21, 9)
    assert NearDedupConfig(num_perm=128).lsh_params() == (13, 7)
    assert NearDedupConfig(threshold=0.5).lsh_params() == (47, 4)
    assert NearDedupConfig(bands=16, rows=8).lsh_params() == (16, 8)
    with pytest.raises(ValueError, match="set both"):
        NearDedupConfig(bands=16)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        NearDedupConfig(bands=25, rows=8)
    with pytest.raises(ValueError, match="Extra inputs"):
        NearDedupConfig(treshold=0.7)
    scheme = manifest_scheme(NearDedupConfig())
    assert scheme["bands"] == 21 and scheme["rows"] == 9 and scheme["num_perm"] == 192
    assert scheme["hash_function"] == "xxh32" and scheme["scheme"] == "affine32"
    assert scheme["library"] == "datasketch==2.0.0" and "NFKD" in scheme["normalization"]


def test_disabled_passes_everything_through(tmp_path):
    examples = [
        _example(f"d{i}", ["same", "words", "in", "every", "one", "of", "them"]) for i in range(3)
    ]
    kept, duplicates, _ = _run(examples, NearDedupConfig(enabled=False), tmp_path)
    assert sorted(kept, key=lambda e: e.id) == examples and duplicates == []


def test_repeated_node_key_still_accounts_every_input(tmp_path):
    words = [f"w{i}" for i in range(60)]
    examples = [
        _example("same", words),
        _example("same", words[:-1] + ["other"]),  # same id and source, near-duplicate text
        _example("copy", words),
        _example("lone", [f"x{i}" for i in range(60)]),
    ]
    kept, duplicates, _ = _run(examples, NearDedupConfig(**_FAST), tmp_path)
    assert sorted(e.id for e in kept) == ["copy", "lone"]
    assert sorted((d.example.id, d.kept_id) for d in duplicates) == [("same", "copy")] * 2


# --------------------------------------------------------------------------- hot clusters

_HOT_RNG = random.Random(21)
_HOT_VOCAB = _vocabulary(_HOT_RNG)
_HOT_BASE = _HOT_RNG.choices(_HOT_VOCAB, k=300)


def _hot_copy(spec: tuple[str, int]) -> Example:
    """Copy `i` of one page with one word changed (i < 0: an unrelated page). Built inside
    the pipeline: `beam.Create` of megabytes of examples costs seconds of pickling."""
    doc_id, i = spec
    if i < 0:
        words = random.Random(i).choices(_HOT_VOCAB, k=300)
    else:
        words = _HOT_BASE[:]
        words[(i * 7) % len(words)] = _HOT_VOCAB[i % len(_HOT_VOCAB)]
    return _example(doc_id, words)


def _run_specs(specs: list, make, config: NearDedupConfig) -> tuple[list, list, dict[str, int]]:
    pipeline = beam.Pipeline()
    created = pipeline | beam.Create(specs, reshuffle=False) | beam.Map(make)
    out = created | NearDuplicates(config)
    kept, duplicates = collect(out["kept"], "Kept"), collect(out["duplicates"], "Duplicates")
    result = pipeline.run()
    result.wait_until_finish()
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(STAGE))
    return kept, duplicates, {c.key.metric.name: c.committed for c in query["counters"]}


def test_hot_cluster_spreads_over_keys_and_documents_cross_once(monkeypatch):
    """1,500 near copies of one page: no key holds the cluster, each page crosses once."""
    specs = [(f"hot{i:05d}", i) for i in range(1500)] + [(f"other{i}", -1 - i) for i in range(40)]
    random.Random(4).shuffle(specs)
    stats = probe_groups(monkeypatch)
    kept, duplicates, _ = _run_specs(specs, _hot_copy, NearDedupConfig(**_FAST))
    assert {d.kept_id for d in duplicates} == {"hot00000"} and len(duplicates) == 1499
    assert sorted(e.id for e in kept) == sorted(["hot00000"] + [f"other{i}" for i in range(40)])
    assert {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}["hot00000"] == 1500
    # old: the root's key held 1,499 documents + signatures (~3.9 MB) in one list
    assert stats.largest_values <= 200, sorted(stats.per_label.items(), key=lambda kv: -kv[1])[:4]
    assert stats.largest_bytes <= 32 * 1024, stats.largest_bytes
    assert stats.examples_crossing == len(specs), stats.per_label


def test_each_distinct_candidate_pair_is_compared_once():
    """A pair met in several bands, or a node with more neighbours than a repeat-dropping
    limit, must not send its shingle set again: every distinct candidate is compared once
    (at 1/100 scale a 3,000-page cluster was verified 17,184 times for 2,999 pairs)."""
    specs = [(f"hot{i:05d}", i) for i in range(40)]
    _, duplicates, counters = _run_specs(specs, _hot_copy, NearDedupConfig(**_FAST))
    assert len(duplicates) == 39
    compared = counters["verified_edges"] + counters.get("false_positive_edges", 0)
    assert compared == counters["candidate_edges"] <= 40 * 39 // 2


def test_repeated_candidates_are_compared_once_and_hub_sets_sent_once_per_salt():
    """A pair repeated in every band is one comparison; a hub's set is not sent per edge."""
    from polymix.pipelines.near_dedup import WIRE, VerifyCandidates, set_similarity
    from polymix.pipelines.salted_join import salt_of

    hasher = MinHasher()
    texts = {f"n{i:03d}": " ".join(_HOT_BASE[: 200 + i]) for i in range(40)}  # J >= 0.83
    sketches = [
        (node, np.unique(hasher.shingle_hashes([text])[0]).astype(WIRE).tobytes())
        for node, text in texts.items()
    ]
    hub, others = "n000", sorted(texts)[1:]
    candidates = [(hub, other) for other in others] * 9  # a star repeated in nine bands
    candidates += [("n001", "n002")] * 9
    pipeline = beam.Pipeline()
    out = (
        pipeline | "Candidates" >> beam.Create(candidates),
        pipeline | "Sketches" >> beam.Create(sketches),
    ) | VerifyCandidates(set_similarity, 0.8)
    edges = collect(out["edges"], "Edges")
    result = pipeline.run()
    result.wait_until_finish()
    assert sorted(e[:2] for e in edges) == sorted({(hub, o) for o in others} | {("n001", "n002")})
    query = result.metrics().query(beam.metrics.MetricsFilter().with_name("candidate_edges"))
    assert sum(c.committed for c in query["counters"]) == len(others) + 1
    assert len({salt_of(o) for o in others}) <= len(others)  # the hub's copies: one per salt


# --------------------------------------------------------------------------- cluster floor

_CHAIN_WORDS = random.Random(8).choices(_vocabulary(random.Random(8)), k=60 * 2000 + 300)


def chain_page(spec: tuple[str, int]) -> Example:
    """Page `i` of a sliding 300-word window, 30 words a step: neighbours J = 0.82, pages two
    steps apart 0.66, three 0.53."""
    doc_id, i = spec
    return _example(doc_id, _CHAIN_WORDS[i * 30 : i * 30 + 300])


def _assert_within_floor(n_pages: int, kept: list, duplicates: list, floor: float) -> None:
    hasher = MinHasher()
    sets = {f"page{i:05d}": set(hasher.shingles(chain_page(("", i)).text)) for i in range(n_pages)}
    kept_ids = {e.id for e in kept}
    assert len(kept_ids) + len(duplicates) == n_pages
    assert {d.kept_id for d in duplicates} <= kept_ids
    truths = {d.example.id: _jaccard(sets[d.example.id], sets[d.kept_id]) for d in duplicates}
    below = sorted((t, doc) for doc, t in truths.items() if t < floor)
    assert below == [], f"{len(below)} removed below the floor, e.g. {below[:3]}"
    for duplicate in duplicates:  # the line's similarity is the verified one
        assert duplicate.similarity == pytest.approx(truths[duplicate.example.id], abs=1e-9)
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    for kept_id in kept_ids:
        assert sizes[kept_id] == 1 + sum(d.kept_id == kept_id for d in duplicates)


@pytest.mark.parametrize("n_pages", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_a_chain_is_cut_so_every_removed_page_is_within_the_floor(n_pages: int):
    specs = [(f"page{i:05d}", i) for i in range(n_pages)]  # ids in chain order: the worst case
    config = _WIDE if n_pages <= 200 else NearDedupConfig(bands=32, rows=4)
    kept, duplicates, counters = _run_specs(specs, chain_page, config)
    _assert_within_floor(n_pages, kept, duplicates, 0.8)
    assert len(duplicates) >= n_pages // 3  # still deduplicated: about every other page goes


def test_a_chain_longer_than_the_rounds_cover_is_deduplicated_about_as_well():
    """The default rounds do not finish every chain. Rounds that run out cut it into the
    stars reached, each judged against the floor: nothing goes below it, and about as
    many pages go as with every round (3 of 7 rounds: 96 pages kept against 84), the far
    ends being below the floor anyway."""
    specs = [(f"page{i:05d}", i) for i in range(200)]  # needs 7 rounds
    kept, duplicates, _ = _run_specs(specs, chain_page, _WIDE)
    short = NearDedupConfig(bands=32, rows=4, max_rounds=3)
    kept_short, duplicates_short, _ = _run_specs(specs, chain_page, short)
    _assert_within_floor(200, kept_short, duplicates_short, 0.8)
    assert len(kept) <= len(kept_short) <= 1.2 * len(kept), (len(kept), len(kept_short))
