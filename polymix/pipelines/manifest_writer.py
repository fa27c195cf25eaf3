"""Write the manifest: an index in parallel, then a small top level from small figures.

    shards, eval shards, rejected, duplicates (WrittenFile) ─► index entries ─► WriteGroupedFiles
         │                                                              │ (one IndexFileInfo each)
         ├─► per source: records, positions by kind ──────┐             │
         ├─► per source: eval records, eval positions ────┤             │
         └─► per (source, kind, stage, reason): lines ────┼─► manifest.json (+ tokenizer.model)
    counts in flight: per (source, bucket, stage, reason) ┘

What one worker or key holds, at 1 PB (5e11 documents, ~30% kept: ~2.5M shards, ~13M
side files; `benchmarks/manifest_scale.py`):

- WriteIndex (a GroupByKey inside WriteGroupedFiles): one key per index file, sized to
  ~8 MiB of entry lines (~250 bytes each), so a key holds ~32k entries however large the
  corpus (~460 keys at 1 PB; 38 MB peak measured for the largest). Its side input
  (AsDict) is one byte total per (kind, source): a few hundred integers.
- SumPerSource, SumLines (CombinePerKey(sum), lifted): one key per (source, figure,
  kind) or per (source, kind, stage, reason); a worker holds one running sum per key.
  Eval shards add two figures per source (`eval_records`, `eval_tokens`) to the same
  combine and their entries to their own `eval` index files (~0.5% of the shards).
- the top level: its side inputs are the index-file list (AsList, ~460 entries of
  ~300 bytes), the per-source sums, the written line counts and the in-flight counts
  (one integer per source, stage and reason). Nothing per shard or per document is
  gathered; the result is ~0.15 MB of JSON.
- a hot key of 1e8 copies of one document: ~250 GB of duplicate lines, ~4k side files
  of 64 MiB, so ~4k entries (~1 MB of lines) in its source's duplicates index and 4k
  values into one SumLines key: no key grows past one index file.

The side files' line counts are the accounting as written; the top level keeps the
in-flight counts and warns where the two disagree, and `polymix verify` re-counts the
files themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import (
    IndexFileInfo,
    Manifest,
    ShardInfo,
    SideFileInfo,
    SourceTotals,
    TokenizerInfo,
    encode_entry,
    index_file_name,
)
from polymix.core.mixture import MixtureError, plan_mixture, position_kind, supply_from_totals
from polymix.pipelines.file_io import write_bytes
from polymix.pipelines.grouped_write import Item, WriteGroupedFiles, WrittenFile

INDEX_TARGET_BYTES = 8 * 2**20  # of entry lines per index file (~1.5 MiB gzip'd)
Count = tuple[tuple[str, str, str, str], int]  # ((source, bucket, stage, reason), n)


@dataclass(frozen=True)
class RunFacts:
    """What the launcher knows before the pipeline runs (all small, all deterministic)."""

    output: str
    polymix_version: str
    config_hash: str
    max_seq_len: int
    sources: dict[str, tuple[str, float]]  # name -> (modality, weight)
    tokenizer: TokenizerInfo | None
    tokenizer_bytes: bytes | None
    minhash: dict | None
    warnings: tuple[str, ...]
    mixture: MixtureConfig
    media: dict | None = None  # patch size, mel bins, frame stack, when a source has media


def shard_entry(shard: WrittenFile, modalities: dict[str, str], split: str = "train") -> Item:
    (source,) = shard.group
    info = ShardInfo(
        path=shard.path,
        source=source,
        modality=modalities[source],
        records=shard.records,
        tokens=shard.positions,
        bytes=shard.bytes,
        sha256=shard.sha256,
        positions=dict(shard.kinds),
        split=split,  # type: ignore[arg-type]
    )
    return Item((info.kind, source), shard.path, encode_entry(info))


def side_entry(part: WrittenFile, kind: str) -> Item:
    source, stage, *reason = part.group
    info = SideFileInfo(
        path=part.path,
        kind=kind,  # type: ignore[arg-type]
        source=source,
        stage=stage,
        reason=reason[0] if reason else "",
        lines=part.records,
        bytes=part.bytes,
        sha256=part.sha256,
    )
    return Item((kind, source), part.path, encode_entry(info))


def shard_sums(shard: WrittenFile, modalities: dict[str, str]):
    """((source, figure, kind), n) for the per-source totals the shards give."""
    (source,) = shard.group
    yield (source, "records", ""), shard.records
    yield (source, "tokens", ""), shard.positions
    for kind, n in shard.kinds or ((position_kind(modalities[source]), shard.positions),):
        yield (source, "positions", kind), n


def eval_shard_sums(shard: WrittenFile):
    """The held-out figures: records and positions, kept apart from the training ones."""
    (source,) = shard.group
    yield (source, "eval_records", ""), shard.records
    yield (source, "eval_tokens", ""), shard.positions


def written_lines(part: WrittenFile, kind: str) -> Count:
    source, stage, *reason = part.group
    return (source, kind, stage, reason[0] if reason else ""), part.records


def index_info(written: WrittenFile) -> IndexFileInfo:
    kind, source = written.group
    return IndexFileInfo(
        path=written.path,
        kind=kind,  # type: ignore[arg-type]
        source=source,
        entries=written.records,
        bytes=written.bytes,
        sha256=written.sha256,
    )


def _add_count(entry: SourceTotals, bucket: str, stage: str, reason: str, n: int) -> None:
    if bucket == "input":
        entry.input += n
    elif bucket == "kept":
        entry.kept += n
    elif bucket == "duplicates":
        entry.duplicates[stage] = entry.duplicates.get(stage, 0) + n
    elif bucket in ("rejected", "modified"):
        reasons = getattr(entry, bucket).setdefault(stage, {})
        reasons[reason] = reasons.get(reason, 0) + n


def source_totals(
    facts: RunFacts, counts: Iterable[Count], sums: Iterable[Count]
) -> dict[str, SourceTotals]:
    totals = {name: SourceTotals(modality=m, weight=w) for name, (m, w) in facts.sources.items()}
    for (source, bucket, stage, reason), n in counts:
        _add_count(totals[source], bucket, stage, reason, n)
    for (source, figure, kind), n in sums:
        entry = totals[source]
        if figure == "positions":
            entry.positions[kind] = entry.positions.get(kind, 0) + n
        else:
            setattr(entry, figure, getattr(entry, figure) + n)
    return totals


def accounting_warnings(totals: dict[str, SourceTotals], lines: Iterable[Count]) -> list[str]:
    """Where the lines written to side files differ from the counts made in flight."""
    written = {key: n for key, n in lines}
    counted = {}
    for name, t in totals.items():
        counted |= {(name, "duplicates", s, ""): n for s, n in t.duplicates.items()}
        for stage, reasons in t.rejected.items():
            counted |= {(name, "rejected", stage, r): n for r, n in reasons.items()}
    warnings = []
    for key in sorted(set(written) | set(counted)):
        if written.get(key, 0) != counted.get(key, 0):
            folder = "/".join([key[1], key[0], key[2]] + ([key[3]] if key[3] else []))
            warnings.append(
                f"accounting: {folder} holds {written.get(key, 0)} lines, "
                f"{counted.get(key, 0)} were counted"
            )
    return warnings


def _plan(facts: RunFacts, totals: dict[str, SourceTotals]) -> tuple[dict, Any, list[str]]:
    try:
        plan = plan_mixture(supply_from_totals(totals), facts.mixture)
        return plan.weights(), plan.to_json(), list(plan.warnings)
    except MixtureError as exc:
        weight_sum = sum(w for _, w in facts.sources.values()) or 1.0
        mixture = {name: w / weight_sum for name, (_, w) in sorted(facts.sources.items())}
        return mixture, None, [f"mixture plan failed, using target weights: {exc}"]


def assemble_manifest(
    facts: RunFacts,
    index: Iterable[WrittenFile],
    counts: Iterable[Count],
    sums: Iterable[Count],
    lines: Iterable[Count],
) -> Manifest:
    """The top level from small figures only: index files, counts and per-source sums."""
    totals = source_totals(facts, counts, sums)
    mixture, plan, plan_warnings = _plan(facts, totals)
    return Manifest(
        polymix_version=facts.polymix_version,
        config_hash=facts.config_hash,
        max_seq_len=facts.max_seq_len,
        tokenizer=facts.tokenizer,
        minhash=facts.minhash,
        media=facts.media,
        sources=totals,
        mixture=mixture,
        plan=plan,
        index=sorted((index_info(f) for f in index), key=lambda f: f.path),
        warnings=[*facts.warnings, *plan_warnings, *accounting_warnings(totals, lines)],
    )


def _write(_, facts: RunFacts, index, counts, sums, lines) -> str:
    manifest = assemble_manifest(facts, index, counts, sums, lines)
    root = facts.output.rstrip("/")
    if facts.tokenizer is not None and facts.tokenizer_bytes is not None:
        write_bytes(f"{root}/{facts.tokenizer.path}", facts.tokenizer_bytes)
    path = f"{root}/manifest.json"
    write_bytes(path, manifest.to_json().encode("utf-8"))
    return path


def _index_name(group: tuple[str, ...], index: int, count: int) -> str:
    kind, source = group
    return index_file_name(kind, source, index, count)


class WriteManifest(beam.PTransform):
    """PBegin → the manifest path, once every shard, side file and index file exists."""

    def __init__(
        self,
        facts: RunFacts,
        shards,
        rejected,
        duplicates,
        counts,
        *,
        eval_shards=None,
        index_target_bytes=INDEX_TARGET_BYTES,
    ):
        super().__init__()
        self.facts, self.counts = facts, counts
        self.shards, self.rejected, self.duplicates = shards, rejected, duplicates
        self.eval_shards = eval_shards
        self.index_target_bytes = index_target_bytes

    def _eval_shards(self, pbegin):
        if self.eval_shards is not None:
            return self.eval_shards
        return pbegin | "NoEvalShards" >> beam.Create([])

    def expand(self, pbegin):
        modalities = {name: m for name, (m, _) in self.facts.sources.items()}
        eval_shards = self._eval_shards(pbegin)
        entries = (
            self.shards | "ShardEntries" >> beam.Map(shard_entry, modalities),
            eval_shards | "EvalShardEntries" >> beam.Map(shard_entry, modalities, "eval"),
            self.rejected | "RejectedEntries" >> beam.Map(side_entry, "rejected"),
            self.duplicates | "DuplicateEntries" >> beam.Map(side_entry, "duplicates"),
        ) | "AllEntries" >> beam.Flatten()
        index = entries | "WriteIndex" >> WriteGroupedFiles(
            self.facts.output, "jsonl.gz", self.index_target_bytes, _index_name
        )
        sums = (
            (
                self.shards | "ShardSums" >> beam.FlatMap(shard_sums, modalities),
                eval_shards | "EvalShardSums" >> beam.FlatMap(eval_shard_sums),
            )
            | "AllSums" >> beam.Flatten()
            | "SumPerSource" >> beam.CombinePerKey(sum)
        )
        lines = (
            (
                self.rejected | "RejectedLines" >> beam.Map(written_lines, "rejected"),
                self.duplicates | "DuplicateLines" >> beam.Map(written_lines, "duplicates"),
            )
            | "AllLines" >> beam.Flatten()
            | "SumLines" >> beam.CombinePerKey(sum)
        )
        return (
            pbegin
            | beam.Create([None])
            | beam.Map(
                _write,
                self.facts,
                beam.pvalue.AsList(index),
                beam.pvalue.AsList(self.counts),
                beam.pvalue.AsList(sums),
                beam.pvalue.AsList(lines),
            )
        )
