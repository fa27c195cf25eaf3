"""Write `manifest.json` once, at the end, from the written files' metadata and the counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import apache_beam as beam

from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import Manifest, ShardInfo, SourceTotals, TokenizerInfo
from polymix.mixture import MixtureError, plan_mixture, position_kind, supply_from_totals
from polymix.pipelines.file_io import write_bytes
from polymix.pipelines.grouped_write import WrittenFile


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


def assemble_manifest(
    facts: RunFacts,
    shards: Iterable[WrittenFile],
    side_files: Iterable[WrittenFile],
    counts: Iterable[tuple[tuple[str, str, str, str], int]],
) -> Manifest:
    totals = {name: SourceTotals(modality=m, weight=w) for name, (m, w) in facts.sources.items()}
    for (source, bucket, stage, reason), n in counts:
        entry = totals[source]
        if bucket == "input":
            entry.input += n
        elif bucket == "kept":
            entry.kept += n
        elif bucket == "duplicates":
            entry.duplicates[stage] = entry.duplicates.get(stage, 0) + n
        elif bucket == "rejected":
            entry.rejected.setdefault(stage, {})[reason] = (
                entry.rejected.get(stage, {}).get(reason, 0) + n
            )
        elif bucket == "modified":
            entry.modified.setdefault(stage, {})[reason] = (
                entry.modified.get(stage, {}).get(reason, 0) + n
            )
    shard_infos = []
    for shard in sorted(shards, key=lambda s: s.path):
        source = shard.group[0]
        totals[source].records += shard.records
        totals[source].tokens += shard.positions
        default = ((position_kind(totals[source].modality), shard.positions),)
        for kind, n in shard.kinds or default:
            totals[source].positions[kind] = totals[source].positions.get(kind, 0) + n
        shard_infos.append(
            ShardInfo(
                path=shard.path,
                source=source,
                modality=totals[source].modality,
                records=shard.records,
                tokens=shard.positions,
                bytes=shard.bytes,
                sha256=shard.sha256,
                positions=dict(shard.kinds),
            )
        )
    warnings = list(facts.warnings)
    try:
        plan = plan_mixture(supply_from_totals(totals), facts.mixture)
        mixture, plan_json = plan.weights(), plan.to_json()
        warnings += plan.warnings
    except MixtureError as exc:
        weight_sum = sum(w for _, w in facts.sources.values()) or 1.0
        mixture = {name: w / weight_sum for name, (_, w) in sorted(facts.sources.items())}
        plan_json = None
        warnings.append(f"mixture plan failed, using target weights: {exc}")
    return Manifest(
        polymix_version=facts.polymix_version,
        config_hash=facts.config_hash,
        max_seq_len=facts.max_seq_len,
        tokenizer=facts.tokenizer,
        minhash=facts.minhash,
        shards=shard_infos,
        sources=totals,
        mixture=mixture,
        plan=plan_json,
        side_outputs=sorted(f.path for f in side_files),
        warnings=warnings,
    )


def _write(_, facts: RunFacts, shards, side_files, counts) -> str:
    manifest = assemble_manifest(facts, shards, side_files, counts)
    root = facts.output.rstrip("/")
    if facts.tokenizer is not None and facts.tokenizer_bytes is not None:
        write_bytes(f"{root}/{facts.tokenizer.path}", facts.tokenizer_bytes)
    path = f"{root}/manifest.json"
    write_bytes(path, manifest.to_json().encode("utf-8"))
    return path


class WriteManifest(beam.PTransform):
    """Runs once, after every shard and side file exists (they are its side inputs)."""

    def __init__(self, facts: RunFacts, shards, side_files, counts):
        super().__init__()
        self.facts, self.shards, self.side_files, self.counts = facts, shards, side_files, counts

    def expand(self, pbegin):
        return (
            pbegin
            | beam.Create([None])
            | beam.Map(
                _write,
                self.facts,
                beam.pvalue.AsList(self.shards),
                beam.pvalue.AsList(self.side_files),
                beam.pvalue.AsList(self.counts),
            )
        )
