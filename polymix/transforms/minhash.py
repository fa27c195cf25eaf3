"""MinHash signatures for a whole batch of documents, value for value equal to datasketch.

datasketch (pinned at 2.0.0) is the reference and the interop layer: a signature row
from `MinHasher.signatures` is the `hashvalues` of `datasketch.MinHash(num_perm, seed,
hashfunc=MinHasher.hashfunc)` updated with `MinHasher.shingles(text)`, so it loads as
`LeanMinHash(seed=seed, hashvalues=row, scheme="affine32")` and works with `MinHashLSH`.

datasketch spends its time in one Python call per shingle and one numpy round trip per
document. Here the normalized text of a batch sits in one byte buffer; compiled
(numba) kernels squeeze its spaces, hash every word n-gram in place with xxh32 and
apply the permutations eight shingles per pass, so no per-shingle Python object and no
`(shingles, num_perm)` matrix exists. `benchmarks/minhash.py` measures the gain.

Scheme ("affine32", datasketch's default): h = fmix32(hash32(shingle)), then
`min over shingles of (a_k * h + b_k) mod 2**32` for each permutation k, with `(a, b)`
drawn exactly as datasketch draws them from `numpy.random.RandomState(seed)`.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

import numba
import numpy as np
import xxhash
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from polymix.core.config.near_dedup import NearDedupConfig

SCHEME = "affine32"
HASH_FUNCTIONS = ("xxh32", "sha1_32")
NORMALIZATION = (
    "NFKD, combining marks removed, lowercased, decimal digits -> '0', every other "
    "non-letter -> space, whitespace collapsed; shingles are word n-grams joined by one "
    "space, UTF-8; a text with 0 < words < ngram gives one shingle of all its words"
)

_P1 = np.uint32(0x9E3779B1)
_P2 = np.uint32(0x85EBCA77)
_P3 = np.uint32(0xC2B2AE3D)
_P4 = np.uint32(0x27D4EB2F)
_P5 = np.uint32(0x165667B1)


# --------------------------------------------------------------------------- normalization


def _fold_char(char: str) -> str:
    """What one character becomes; applied per character so `str.translate` can cache it.

    Per-character NFKD equals whole-string NFKD once combining marks are dropped (NFKD
    never composes; it only reorders marks, which are removed anyway).
    """
    out = []
    for piece in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(piece):
            continue
        for low in unicodedata.normalize("NFKD", piece.lower()):
            if unicodedata.combining(low):
                continue
            if low.isalpha():
                out.append(low)
            elif unicodedata.decimal(low, None) is not None:
                out.append("0")
            else:
                out.append(" ")
    return "".join(out)


class _FoldTable(dict):
    """A `str.translate` table that computes a character's fold on first sight only."""

    def __missing__(self, codepoint: int) -> str:
        folded = _fold_char(chr(codepoint))
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()
# ASCII fast path: `bytes.translate` runs at memory speed; built from the same rule.
_ASCII_TABLE = bytes(ord(_fold_char(chr(i)) or " ") for i in range(128)) + bytes(128)


def normalize(text: str) -> bytes:
    """The UTF-8 bytes MinHash sees: folded words separated by single spaces."""
    return b" ".join(_fold(text).split())


# --------------------------------------------------------------------------- hash functions


def xxh32(data: bytes) -> int:
    """The default shingle hash: xxh32 with seed 0 (give it to datasketch as `hashfunc`)."""
    return xxhash.xxh32_intdigest(data)


def sha1_32(data: bytes) -> int:
    """datasketch's own default (`sha1_hash32`): slow, kept for sketches made without us."""
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


_HASHFUNCS: dict[str, Callable[[bytes], int]] = {"xxh32": xxh32, "sha1_32": sha1_32}


@numba.njit(cache=True, inline="always")
def _rotl(x, r):
    return np.uint32((x << np.uint32(r)) | (x >> np.uint32(32 - r)))


@intrinsic
def _load_u32(typingctx, buf, p):
    """One unaligned 4-byte load; LLVM does not merge four byte loads into one by itself,
    and this alone makes xxh32 of a 30-byte shingle ~3x faster."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        address = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(address, ir.IntType(32).as_pointer()), align=1)

    return types.uint32(buf, types.intp), codegen


if sys.byteorder == "little":

    @numba.njit(cache=True, inline="always")
    def _read32(buf, p):
        return _load_u32(buf, p)

else:  # pragma: no cover - xxh32 reads little-endian words

    @numba.njit(cache=True, inline="always")
    def _read32(buf, p):
        return np.uint32(
            np.uint32(buf[p])
            | (np.uint32(buf[p + 1]) << np.uint32(8))
            | (np.uint32(buf[p + 2]) << np.uint32(16))
            | (np.uint32(buf[p + 3]) << np.uint32(24))
        )


@numba.njit(cache=True, inline="always")
def _round(acc, lane):
    acc = np.uint32(acc + np.uint32(lane * _P2))
    return np.uint32(_rotl(acc, 13) * _P1)


@numba.njit(cache=True, inline="always")
def _xxh32(buf, start, end):
    """XXH32 (seed 0) of `buf[start:end]`, bit-exact with the reference implementation."""
    p = start
    length = end - start
    if length >= 16:
        v1 = np.uint32(_P1 + _P2)
        v2 = _P2
        v3 = np.uint32(0)
        v4 = np.uint32(np.uint32(0) - _P1)
        limit = end - 16
        while p <= limit:
            v1 = _round(v1, _read32(buf, p))
            v2 = _round(v2, _read32(buf, p + 4))
            v3 = _round(v3, _read32(buf, p + 8))
            v4 = _round(v4, _read32(buf, p + 12))
            p += 16
        h = np.uint32(_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18))
    else:
        h = _P5
    h = np.uint32(h + np.uint32(length))
    while p + 4 <= end:
        h = np.uint32(h + np.uint32(_read32(buf, p) * _P3))
        h = np.uint32(_rotl(h, 17) * _P4)
        p += 4
    while p < end:
        h = np.uint32(h + np.uint32(np.uint32(buf[p]) * _P5))
        h = np.uint32(_rotl(h, 11) * _P1)
        p += 1
    h = np.uint32(h ^ (h >> np.uint32(15)))
    h = np.uint32(h * _P2)
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * _P3)
    return np.uint32(h ^ (h >> np.uint32(16)))


@numba.njit(cache=True)
def _collapse_spaces(buf, doc_offsets):
    """Trim each folded document, squeeze runs of spaces to one (so a shingle is one
    contiguous byte span) and note where every word ends, all in one branch-free pass.

    Unsigned positions spare numba's negative-index fix-up on every store (25% faster).
    """
    n_docs = doc_offsets.shape[0] - 1
    out = np.empty(buf.shape[0] + 1, np.uint8)
    offsets = np.zeros(n_docs + 1, np.int64)
    word_ends = np.empty((buf.shape[0] + n_docs) // 2 + 2, np.int64)
    word_offsets = np.zeros(n_docs + 1, np.int64)
    one = numba.uint64(1)
    q = numba.uint64(0)
    n = numba.uint64(0)
    for d in range(n_docs):
        prev = np.uint8(32)
        p = numba.uint64(doc_offsets[d])
        end = numba.uint64(doc_offsets[d + 1])
        while p < end:
            c = buf[p]
            out[q] = c
            word_ends[n] = q
            space = c == 32
            after_space = prev == 32
            n += numba.uint64(space and not after_space)  # a word ends here
            q += numba.uint64(not (space and after_space))  # keep all but repeated spaces
            prev = c
            p += one
        if prev != 32:
            word_ends[n] = q
            n += one
        elif q > numba.uint64(offsets[d]):
            q -= one  # drop the trailing space
        offsets[d + 1] = q
        word_offsets[d + 1] = n
    return out[:q], offsets, word_ends[:n], word_offsets


@numba.njit(cache=True)
def _signatures_xxh32(buf, offsets, word_ends, word_offsets, ngram, a, b):
    """Shingle -> xxh32 -> permute -> min per document, with no per-shingle allocation."""
    n_docs = offsets.shape[0] - 1
    out = np.full((n_docs, a.shape[0]), np.uint32(0xFFFFFFFF), np.uint32)
    most = 0
    for d in range(n_docs):
        most = max(most, word_offsets[d + 1] - word_offsets[d])
    scratch = np.empty(most, np.uint32)
    for d in range(n_docs):
        w0 = word_offsets[d]
        n_words = word_offsets[d + 1] - w0
        if n_words == 0:
            continue
        last = min(ngram, n_words) - 1
        n_shingles = max(1, n_words - ngram + 1)
        for i in range(n_shingles):
            s = offsets[d] if i == 0 else word_ends[w0 + i - 1] + 1
            scratch[i] = _xxh32(buf, s, word_ends[w0 + i + last])
        _min_into(out[d], scratch, 0, n_shingles, a, b)
    return out


@numba.njit(cache=True)
def _xxh32_shingles(buf, offsets, word_ends, word_offsets, ngram):
    """Every shingle's xxh32, and each document's slice into them (for exact Jaccard)."""
    n_docs = offsets.shape[0] - 1
    counts = np.zeros(n_docs + 1, np.int64)
    for d in range(n_docs):
        n_words = word_offsets[d + 1] - word_offsets[d]
        counts[d + 1] = counts[d] + (0 if n_words == 0 else max(1, n_words - ngram + 1))
    hashes = np.empty(counts[n_docs], np.uint32)
    for d in range(n_docs):
        w0 = word_offsets[d]
        n_words = word_offsets[d + 1] - w0
        last = min(ngram, n_words) - 1
        for i in range(counts[d + 1] - counts[d]):
            s = offsets[d] if i == 0 else word_ends[w0 + i - 1] + 1
            hashes[counts[d] + i] = _xxh32(buf, s, word_ends[w0 + i + last])
    return hashes, counts


@numba.njit(cache=True, inline="always")
def _fmix32(h):
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    return np.uint32(h ^ (h >> np.uint32(16)))


@numba.njit(cache=True, inline="always")
def _min_into(row, hashes, start, end, a, b):
    """row[k] = min(row[k], min over hashes[start:end] of a[k] * fmix32(h) + b[k]).

    Eight hashes per pass over the permutations: each load and store of `row`, `a` and
    `b` then serves eight candidates, which makes the loop compute-bound (3x faster
    than one hash per pass)."""
    num_perm = a.shape[0]
    i = start
    while i + 8 <= end:
        h0 = _fmix32(hashes[i])
        h1 = _fmix32(hashes[i + 1])
        h2 = _fmix32(hashes[i + 2])
        h3 = _fmix32(hashes[i + 3])
        h4 = _fmix32(hashes[i + 4])
        h5 = _fmix32(hashes[i + 5])
        h6 = _fmix32(hashes[i + 6])
        h7 = _fmix32(hashes[i + 7])
        for k in range(num_perm):
            ak = a[k]
            bk = b[k]
            v0 = min(np.uint32(ak * h0 + bk), np.uint32(ak * h1 + bk))
            v1 = min(np.uint32(ak * h2 + bk), np.uint32(ak * h3 + bk))
            v2 = min(np.uint32(ak * h4 + bk), np.uint32(ak * h5 + bk))
            v3 = min(np.uint32(ak * h6 + bk), np.uint32(ak * h7 + bk))
            row[k] = min(row[k], min(min(v0, v1), min(v2, v3)))
        i += 8
    while i < end:
        h = _fmix32(hashes[i])
        for k in range(num_perm):
            row[k] = min(row[k], np.uint32(a[k] * h + b[k]))
        i += 1


@numba.njit(cache=True)
def _permute_min(hashes, offsets, a, b):
    """Per document, the min of `a*fmix32(h) + b mod 2**32` per permutation."""
    n_docs = offsets.shape[0] - 1
    out = np.full((n_docs, a.shape[0]), np.uint32(0xFFFFFFFF), np.uint32)
    for d in range(n_docs):
        _min_into(out[d], hashes, offsets[d], offsets[d + 1], a, b)
    return out


# --------------------------------------------------------------------------- the hasher


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 arrays exactly as datasketch's affine32 scheme draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


class MinHasher:
    """Shingles and MinHash signatures under one fixed, recordable scheme.

    Picklable and cheap to build, so a Beam DoFn can hold one per worker.
    """

    def __init__(
        self, num_perm: int = 128, seed: int = 1, ngram: int = 5, hash_function: str = "xxh32"
    ) -> None:
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        if ngram < 1:
            raise ValueError("ngram must be positive")
        if hash_function not in _HASHFUNCS:
            raise ValueError(
                f"hash_function must be one of {HASH_FUNCTIONS}, got {hash_function!r}"
            )
        self.num_perm = num_perm
        self.seed = seed
        self.ngram = ngram
        self.hash_function = hash_function

    @property
    def hashfunc(self) -> Callable[[bytes], int]:
        """The `hashfunc` that makes datasketch produce our values from `shingles()`."""
        return _HASHFUNCS[self.hash_function]

    def scheme(self) -> dict[str, object]:
        """What a reader needs to recompute or query these signatures (for the manifest)."""
        return {
            "library": "datasketch==2.0.0",
            "scheme": SCHEME,
            "hash_function": self.hash_function,
            "seed": self.seed,
            "num_perm": self.num_perm,
            "ngram": self.ngram,
            "normalization": NORMALIZATION,
        }

    def shingles(self, text: str) -> list[bytes]:
        """The word n-grams of `text` (with repeats, in order); the reference path."""
        words = normalize(text).split(b" ") if text else []
        words = [w for w in words if w]
        if not words:
            return []
        n = min(self.ngram, len(words))
        return [b" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]

    def _normalized_buffer(self, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
        """All texts folded into one buffer, spaces squeezed (`normalize` in bulk), with
        offsets of texts in it, word end positions and offsets of texts' words in those."""
        folded = [_fold(t) for t in texts]
        doc_offsets = np.zeros(len(folded) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, folded), np.int64, len(folded)), out=doc_offsets[1:])
        buf = np.frombuffer(b"".join(folded) or b" ", np.uint8)
        return _collapse_spaces(buf, doc_offsets)

    def shingle_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """uint32 hash of every shingle of every text, and `offsets` (text i owns
        `hashes[offsets[i]:offsets[i + 1]]`): the input of exact Jaccard verification."""
        if self.hash_function == "xxh32":
            return _xxh32_shingles(*self._normalized_buffer(texts), self.ngram)
        hashfunc = self.hashfunc
        per_doc = [[hashfunc(s) for s in self.shingles(t)] for t in texts]
        offsets = np.zeros(len(per_doc) + 1, np.int64)
        np.cumsum([len(h) for h in per_doc], out=offsets[1:])
        flat = np.fromiter((h for hs in per_doc for h in hs), np.uint32, int(offsets[-1]))
        return flat, offsets

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """uint32 array (len(texts), num_perm); a text without words gets all 0xFFFFFFFF."""
        a, b = permutations(self.num_perm, self.seed)
        if self.hash_function == "xxh32":
            return _signatures_xxh32(*self._normalized_buffer(texts), self.ngram, a, b)
        return self.signatures_from_hashes(*self.shingle_hashes(texts))

    def signatures_from_hashes(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """`signatures` from `shingle_hashes` output, for callers that need both."""
        a, b = permutations(self.num_perm, self.seed)
        return _permute_min(hashes, offsets, a, b)


class _WordFolds(dict):
    """word -> folded word, filled on first sight; hits stay in C (`map` + `dict`)."""

    def __missing__(self, word: str) -> str:
        if len(self) > 500_000:  # a bound, not an LRU: the common words come back at once
            self.clear()
        folded = self[word] = word.translate(_FOLD)
        return folded


_WORDS = _WordFolds()


def _fold(text: str | None) -> bytes:
    """Every character folded, spaces not yet squeezed (the kernel does that).

    ASCII text goes through one `bytes.translate`. Other text is folded word by word
    through a cache: per-character folding is context-free and whitespace folds to a
    space, so this equals folding the whole string, and natural language repeats its
    words enough that most lookups hit (several times faster than translating every
    character, which costs a dict lookup each).
    """
    if not text:
        return b""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE)
    return " ".join(map(_WORDS.__getitem__, text.split())).encode("utf-8")


# --------------------------------------------------------------------------- similarity


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """datasketch's `MinHash.jaccard`: the share of equal signature values."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(len(sig_a))


def shingle_set(hashes: np.ndarray) -> np.ndarray:
    """Sorted unique shingle hashes of one document: the set exact verification compares."""
    return np.unique(hashes)


def exact_jaccard(set_a: np.ndarray, set_b: np.ndarray) -> float:
    """Jaccard of two `shingle_set`s (exact up to 32-bit hash collisions, ~n**2 / 2**33)."""
    if len(set_a) == 0 and len(set_b) == 0:
        return 1.0
    inter = len(np.intersect1d(set_a, set_b, assume_unique=True))
    return inter / (len(set_a) + len(set_b) - inter)


def manifest_scheme(near: NearDedupConfig) -> dict[str, object]:
    """The `minhash` entry of manifest.json: enough to recompute or query the signatures."""
    bands, rows = near.lsh_params()
    hasher = MinHasher(
        num_perm=near.num_perm, seed=near.seed, ngram=near.ngram, hash_function=near.hash_function
    )
    return {
        **hasher.scheme(),
        "bands": bands,
        "rows": rows,
        "threshold": near.threshold,
        "verify": near.verify,
        "scope": near.scope,
        "cluster_floor": near.floor(),
    }
