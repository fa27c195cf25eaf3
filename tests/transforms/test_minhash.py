"""MinHasher against datasketch, the reference: same shingles in, same values out."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.transforms.lsh import band_keys, collision_probability, small_bucket_pairs
from polymix.transforms.minhash import MinHasher, exact_jaccard, normalize

_WORDS = ["alpha", "Beta", "GAMMA", "café", "naïve", "ÉCOLE", "İstanbul", "ﬁne", "日本語", "x_y"]
_WORDS += ["a.b,c!", "1984", "don't", "e-mail", "\t\n", "Ωmega", "straße", "ｆｕｌｌ", "١٢٣"]


def _corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)] + _WORDS
    docs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 400))) for _ in range(n)]
    return docs + ["", "one", "two words", "!!! ...", "a b c d e", "a b c d e f"]


@pytest.mark.parametrize(
    ("hash_function", "num_perm", "seed", "ngram"),
    [("xxh32", 128, 1, 5), ("sha1_32", 128, 1, 5), ("xxh32", 64, 42, 3), ("sha1_32", 256, 7, 1)],
)
def test_signatures_equal_datasketch(hash_function: str, num_perm: int, seed: int, ngram: int):
    hasher = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram, hash_function=hash_function)
    docs = _corpus(300)
    ours = hasher.signatures(docs)
    assert ours.shape == (len(docs), num_perm) and ours.dtype == np.uint32
    # sha1_32 is datasketch's own default: compare with hashfunc left unset.
    hashfunc = None if hash_function == "sha1_32" else hasher.hashfunc
    for doc, row in zip(docs, ours, strict=True):
        reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=hashfunc)
        reference.update_batch(hasher.shingles(doc))
        np.testing.assert_array_equal(row, reference.hashvalues)


def test_signatures_load_as_leanminhash_and_query_lsh():
    config = NearDedupConfig()
    hasher = MinHasher(num_perm=config.num_perm)
    docs = _corpus(40, seed=3)
    docs.append(docs[5] + " one more sentence at the end")
    signatures = hasher.signatures(docs)
    lsh = MinHashLSH(num_perm=config.num_perm, params=config.lsh_params())
    for i, row in enumerate(signatures[:-1]):
        if hasher.shingles(docs[i]):
            lsh.insert(str(i), LeanMinHash(seed=1, hashvalues=row, scheme="affine32"))
    query = MinHash(num_perm=config.num_perm, seed=1, hashfunc=hasher.hashfunc)
    query.update_batch(hasher.shingles(docs[-1]))
    assert "5" in lsh.query(query)


def test_shingle_hashes_are_xxh32_of_shingles():
    hasher = MinHasher(ngram=4)
    docs = _corpus(50, seed=5)
    hashes, offsets = hasher.shingle_hashes(docs)
    for i, doc in enumerate(docs):
        expected = [xxhash.xxh32_intdigest(s) for s in hasher.shingles(doc)]
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == expected
    together = hasher.signatures_from_hashes(hashes, offsets)
    np.testing.assert_array_equal(together, hasher.signatures(docs))


def test_normalization_folds_case_marks_digits_and_punctuation():
    assert (
        normalize("Héllo, WORLD!  42\ttimes_x İstanbul ﬁne")
        == b"hello world 00 times x istanbul fine"
    )
    assert normalize("Straße ١٢٣ Ωmega") == "straße 000 ωmega".encode()
    assert normalize("  ...  ") == b""
    hasher = MinHasher(ngram=2)
    assert hasher.shingles("A b, C!") == [b"a b", b"b c"]
    assert hasher.shingles("Single") == [b"single"]
    assert hasher.shingles("") == []


def test_word_cache_folds_like_every_character():
    from polymix.transforms.minhash import _FOLD

    spaces = ["\u00a0", "\u2003", "\u3000", "\x1c", "\t", "\n", "\u200b", "\u0301"]
    docs = _corpus(100, seed=4) + [f"x{s}y É{s}Σ ΣΑΣ" for s in spaces]
    for doc in docs:
        assert normalize(doc) == " ".join(doc.translate(_FOLD).split()).encode()


def test_batched_normalization_equals_per_text():
    hasher = MinHasher()
    docs = _corpus(100, seed=9)
    buf, offsets, _, _ = hasher._normalized_buffer(docs)
    for i, doc in enumerate(docs):
        assert bytes(buf[offsets[i] : offsets[i + 1]]) == normalize(doc)


def test_empty_text_gives_empty_sketch():
    row = MinHasher(num_perm=16).signatures(["", "..."])
    assert (row == 0xFFFFFFFF).all()


def test_banding_and_small_bucket_pairs():
    assert collision_probability(0.9, 9, 13) == pytest.approx(0.928, abs=1e-3)
    signature = MinHasher().signatures(["some words here and there again"])[0]
    keys = band_keys(signature, 9, 13)
    assert len(set(keys)) == 9 and all(len(k) == 10 for k in keys)
    assert band_keys(signature, 9, 13, b"src\0")[0].startswith(b"src\0")
    members = [("c", 3), ("a", 1), ("b", 2), ("a", 1)]  # a repeated node key pairs with others
    pairs = sorted((a[0], b[0]) for a, b in small_bucket_pairs(members))
    assert pairs == [("a", "b"), ("a", "b"), ("a", "c"), ("a", "c"), ("b", "c")]


def test_exact_jaccard():
    a = np.array([1, 2, 3, 4], np.uint32)
    b = np.array([3, 4, 5], np.uint32)
    assert exact_jaccard(a, b) == pytest.approx(2 / 5)


def test_compiled_xxh32_matches_xxhash_at_every_length():
    rng = random.Random(11)
    words = ["".join(rng.choice("abcdefghij") for _ in range(n)) for n in range(1, 130)]
    hashes, _ = MinHasher(ngram=1).shingle_hashes(words)
    assert hashes.tolist() == [xxhash.xxh32_intdigest(w.encode()) for w in words]
