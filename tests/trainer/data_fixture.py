"""Tiny shards + manifest in exactly the pipeline's on-disk form, for the loader tests.

Every record is identifiable from its content: its text starts `[BOS, uid, ...]` with a
uid unique over the corpus, and every text id of a source lies in that source's own
band of ids (`band * BAND + ...`), so a test can attribute each packed segment to its
source and record. Position counts are computed here from the stated rule (text tokens,
plus per media block two markers and its patches or ceil(frames / stack) frames), not
with the loader's code, so the manifest checks the loader rather than echoing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.core import record_codec
from polymix.core.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardInfo,
    SourceTotals,
    TokenizerInfo,
    sha256_file,
    write_manifest,
)

BOS, EOS = 1, 2


def _tokenizer_copy(folder: Path) -> str:
    """A stand-in `tokenizer.model` (the loader only reads its ids from the manifest)."""
    (folder / "tokenizer.model").write_bytes(b"stand-in tokenizer model")
    return sha256_file(folder / "tokenizer.model")


MARKERS = {"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7}
BAND = 100_000
VOCAB = 10 * BAND
PATCH_DIM = 2 * 2 * 3
N_MELS = 4
STACK = 2
MAX_SEQ_LEN = 64


@dataclass
class SourceSpec:
    name: str
    modality: str  # text | image | audio | video
    records: int
    band: int  # text ids of this source: band*BAND + [0, BAND)
    weight: float
    shards: int = 2
    min_text: int = 3
    max_text: int = 48


@dataclass
class Corpus:
    manifest_path: Path
    manifest: Manifest
    # uid -> (source, text tokens, patches or None, mel or None)
    records: dict[int, tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None]] = field(
        default_factory=dict
    )

    def source_of_token(self, token: int) -> str | None:
        for name, spec_band in self.bands.items():
            if spec_band * BAND <= token < (spec_band + 1) * BAND:
                return name
        return None

    bands: dict[str, int] = field(default_factory=dict)


DEFAULT_SOURCES = (
    SourceSpec("web", "text", 300, band=1, weight=0.35, max_text=40),
    SourceSpec("books", "text", 200, band=2, weight=0.3, min_text=20, max_text=64),
    SourceSpec("photos", "image", 120, band=3, weight=0.2, max_text=12),
    SourceSpec("speech", "audio", 80, band=4, weight=0.1, max_text=12),
    SourceSpec("clips", "video", 40, band=5, weight=0.05, max_text=8),
)


def _text(rng: np.random.Generator, spec: SourceSpec, uid: int, limit: int) -> np.ndarray:
    n = int(rng.integers(spec.min_text, max(spec.min_text, min(spec.max_text, limit)) + 1))
    n = max(3, min(n, limit))
    body = rng.integers(spec.band * BAND + BAND // 2, (spec.band + 1) * BAND, size=n - 3)
    return np.concatenate([[BOS, uid], body, [EOS]]).astype(np.int32)


def _record(rng: np.random.Generator, spec: SourceSpec, uid: int):
    """(fields, arrays, positions) of one record within MAX_SEQ_LEN positions."""
    arrays: dict[str, np.ndarray] = {}
    fields: dict[str, object] = {"source": spec.name, "id": f"{spec.name}-{uid}"}
    fields["modality"] = spec.modality
    positions = 0
    if spec.modality in ("image", "video"):
        frames = int(rng.integers(2, 4)) if spec.modality == "video" else 1
        rows, cols = (int(v) for v in rng.integers(1, 4, size=2))
        n = frames * rows * cols
        arrays["patches"] = rng.integers(0, 256, size=(n, PATCH_DIM), dtype=np.uint8)
        fields["grid"] = [rows, cols]  # as the pipeline writes it: a field, per frame
        if spec.modality == "video":
            fields["n_frames"] = frames
        positions += frames * (rows * cols + 2)
    if spec.modality in ("audio", "video"):
        n_frames = int(rng.integers(1, 12))
        arrays["mel"] = rng.standard_normal((n_frames, N_MELS)).astype(np.float16)
        fields.update(n_mels=N_MELS, stack=STACK)
        positions += math.ceil(n_frames / STACK) + 2
    arrays["tokens"] = _text(rng, spec, uid, MAX_SEQ_LEN - positions)
    positions += len(arrays["tokens"])
    return fields, arrays, positions


def write_corpus(
    folder: Path,
    sources: tuple[SourceSpec, ...] = DEFAULT_SOURCES,
    *,
    seed: int = 0,
    with_specials: bool = True,
) -> Corpus:
    """Write shards (group_size:1) and manifest.json under `folder`; return what was written."""
    folder = Path(folder)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    corpus = Corpus(folder / MANIFEST_NAME, None, bands={s.name: s.band for s in sources})  # type: ignore[arg-type]
    shards: list[ShardInfo] = []
    totals: dict[str, SourceTotals] = {}
    for spec in sources:
        per_shard = np.array_split(np.arange(spec.records), spec.shards)
        source_tokens = 0
        for k, members in enumerate(per_shard):
            rel = f"shards/{spec.name}-{k:05d}-of-{spec.shards:05d}.arrayrecord"
            writer = ArrayRecordWriter(str(folder / rel), "group_size:1")
            tokens = 0
            for i in members:
                uid = spec.band * BAND + int(i)
                fields, arrays, positions = _record(rng, spec, uid)
                writer.write(record_codec.encode(fields, arrays))
                tokens += positions
                corpus.records[uid] = (
                    spec.name,
                    arrays["tokens"],
                    arrays.get("patches"),
                    arrays.get("mel"),
                )
            writer.close()
            path = folder / rel
            shards.append(
                ShardInfo(
                    path=rel,
                    source=spec.name,
                    modality=spec.modality,
                    records=len(members),
                    tokens=tokens,
                    bytes=path.stat().st_size,
                    sha256=sha256_file(path),
                )
            )
            source_tokens += tokens
        totals[spec.name] = SourceTotals(
            modality=spec.modality,
            weight=spec.weight,
            input=spec.records,
            kept=spec.records,
            records=spec.records,
            tokens=source_tokens,
        )
    extra = (
        {"specials": MARKERS} if with_specials and "specials" in TokenizerInfo.model_fields else {}
    )
    tokenizer = TokenizerInfo(
        path="tokenizer.model",
        sha256=_tokenizer_copy(folder),
        vocab_size=VOCAB,
        bos_id=BOS,
        eos_id=EOS,
        pad_id=0,
        **extra,
    )
    manifest = Manifest(
        polymix_version="test",
        config_hash="test",
        max_seq_len=MAX_SEQ_LEN,
        tokenizer=tokenizer,
        sources=totals,
        mixture={s.name: s.weight for s in sources},
    )
    corpus.manifest = write_manifest(folder, manifest, shards)
    return corpus


def loader_kwargs(**overrides):
    """The loader arguments that match this fixture's record dims."""
    kwargs = dict(
        seq_len=MAX_SEQ_LEN,
        global_batch_size=8,
        seed=7,
        patch_dim=PATCH_DIM,
        n_mels=N_MELS,
        audio_stack=STACK,
        read_block=16,
        read_threads=2,
    )
    kwargs.update(overrides)
    return kwargs


def segments(batch: dict[str, np.ndarray], corpus: Corpus):
    """(row, start, end, source, uid) of every packed document in a batch."""
    out = []
    seg = batch["segment_ids"]
    for row in range(seg.shape[0]):
        for sid in np.unique(seg[row][seg[row] > 0]):
            where = np.nonzero(seg[row] == sid)[0]
            tokens = batch["tokens"][row, where]
            text = tokens[tokens >= BAND]
            uid = int(text[0])
            out.append((row, int(where[0]), int(where[-1]) + 1, corpus.source_of_token(uid), uid))
    return out
