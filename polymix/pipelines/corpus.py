"""The main job, as a Beam graph:

    text:  read ─► url filter ─► normalize ─► exact + near dedup ─► quality filters
             ─► decontaminate ─► tokenize ──────────────────────────────────────────────┐
    media: read ─► decode ─► filter ─► exact + perceptual dedup ─► patches / log-mel ───────┴► split
             │         │          │            │                     │          by id ─► shards, eval shards
             └─────────┴──────────┴─ rejected/<source>/<stage>/<reason>, duplicates/<source>/<stage>
                      counts + statistics ─► manifest.json, stats.json

Every stage returns its survivors plus what it removed; the removed go to side
outputs and into the counts, so the manifest can prove the accounting.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from polymix.core import stages as names
from polymix.core.config import Config
from polymix.pipelines import accounting
from polymix.pipelines.decontaminate import Decontaminate
from polymix.pipelines.domains import TopDomains
from polymix.pipelines.grouped_write import Item, WriteGroupedFiles, part_name, shard_name
from polymix.pipelines.held_out import SplitHeldOut, eval_shard_name
from polymix.pipelines.manifest_writer import RunFacts, WriteManifest
from polymix.pipelines.media import MediaSource
from polymix.pipelines.normalize import NormalizeText
from polymix.pipelines.quality import QualityFilters
from polymix.pipelines.read import ReadTextSource
from polymix.pipelines.side_items import duplicate_item, rejected_item
from polymix.pipelines.statistics import RunStatistics, cuts_from_filters
from polymix.pipelines.text_dedup import TextDuplicates
from polymix.pipelines.tokenize import TokenizeText
from polymix.pipelines.url_filter import UrlFilter
from polymix.transforms.positions import position_kinds

TEXT_MODALITIES = ("text", "code")


@dataclass(frozen=True)
class CorpusJob:
    config: Config  # with model paths resolved against the config's folder
    patterns: dict[str, list[str]]  # source name -> globs that matched at launch
    facts: RunFacts
    tokenizer_proto: bytes


def _flatten(pcolls, label: str, pipeline):
    pcolls = [pc for pc in pcolls if pc is not None]
    return pcolls | label >> beam.Flatten() if pcolls else pipeline | label >> beam.Create([])


def _filter_stages(config: Config) -> list[str]:
    return list(dict.fromkeys(config.filters.stages.text + config.filters.stages.code))


def _passed(examples, stage: str, enabled: bool, transform):
    """A stage's {"kept", "rejected"}; a stage that is off passes everything through."""
    if enabled:
        return examples | stage >> transform
    return {"kept": examples, "rejected": None}


def _eval_patterns(config: Config) -> dict[str, list[str]]:
    return {
        e.name: [config.resolve(p) for p in e.paths] for e in config.filters.decontaminate.eval_sets
    }


def _shard_item(record) -> Item:
    kinds = position_kinds(record.modality, record.payload, record.positions)
    return Item(
        (record.source,), record.id, record.payload, record.positions, tuple(sorted(kinds.items()))
    )


TEXT_STAGES = (
    names.URL_FILTER,
    names.NORMALIZE,
    names.QUALITY,
    names.DECONTAMINATE,
    names.TOKENIZE,
)


def _text_stages(examples, config: Config, job: CorpusJob) -> dict:
    """Each text stage's outputs by name, the survivors of one the input of the next."""
    urls = _passed(
        examples,
        "UrlFilter",
        config.url_filter.enabled,
        UrlFilter(config.url_filter, config.resolve),
    )
    normalized = urls["kept"] | "Normalize" >> NormalizeText(config.normalize)
    dedup = normalized["kept"] | "Dedup" >> TextDuplicates(config.exact_dedup, config.near_dedup)
    quality = dedup["kept"] | "Quality" >> QualityFilters(config.filters)
    decontaminate = config.filters.decontaminate
    clean = _passed(
        quality["kept"],
        "Decontaminate",
        decontaminate.enabled,
        Decontaminate(decontaminate, _eval_patterns(config)),
    )
    tokenized = clean["kept"] | "Tokenize" >> TokenizeText(
        job.tokenizer_proto, config.shards.max_seq_len
    )
    return {
        "url_filter": urls,
        "normalize": normalized,
        "dedup": dedup,
        "quality": quality,
        "decontaminate": clean,
        "tokenize": tokenized,
    }


def _text_reads(pipeline, job: CorpusJob) -> tuple:
    """Every text source read: (examples, rejections), each one collection."""
    config = job.config
    reads = [
        pipeline
        | f"Read[{source.name}]"
        >> ReadTextSource(
            source,
            job.patterns[source.name],
            config.read,
            root_patterns=[config.resolve(p) for p in source.paths],
        )
        for source in config.sources
        if source.modality in TEXT_MODALITIES
    ]
    examples = _flatten([r["examples"] for r in reads], "AllExamples", pipeline)
    return examples, _flatten([r["rejected"] for r in reads], "ReadRejected", pipeline)


def _media_sources(pipeline, job: CorpusJob) -> list[dict]:
    config = job.config
    return [
        pipeline
        | f"Media[{source.name}]"
        >> MediaSource(
            source,
            config.media,
            config.base_dir,
            job.tokenizer_proto,
            config.shards.max_seq_len,
            job.patterns[source.name],
            config.read,
        )
        for source in config.sources
        if source.modality not in TEXT_MODALITIES
    ]


def _write_shards(outcomes: dict, job: CorpusJob) -> dict:
    """Training and eval shards, each split written like the other: {"train", "eval"}."""
    output, target = job.facts.output, job.config.shards.target_bytes
    splits = outcomes["records"] | "HeldOut" >> SplitHeldOut(job.config.eval)
    names = {"train": ("", shard_name), "eval": ("Eval", eval_shard_name)}
    return {
        split: splits[split]
        | f"{label}ShardItems" >> beam.Map(_shard_item)
        | f"Write{label}Shards" >> WriteGroupedFiles(output, "array_record", target, naming)
        for split, (label, naming) in names.items()
    }


def _write_outputs(outcomes: dict, job: CorpusJob) -> tuple:
    """Shards, eval shards, rejected and duplicates files: the index entries of each file."""
    output, shards_config = job.facts.output, job.config.shards
    shards = _write_shards(outcomes, job)
    side_target = shards_config.side_output_target_bytes
    rejected_files = (
        outcomes["rejected"]
        | "RejectedItems" >> beam.Map(rejected_item)
        | "WriteRejected"
        >> WriteGroupedFiles(output, "jsonl.gz", side_target, part_name("rejected"))
    )
    duplicate_files = (
        outcomes["duplicates"]
        | "DuplicateItems" >> beam.Map(duplicate_item)
        | "WriteDuplicates"
        >> WriteGroupedFiles(output, "jsonl.gz", side_target, part_name("duplicates"))
    )
    return shards, rejected_files, duplicate_files


def _counts(outcomes: dict):
    """Per source and reason, the counts the manifest's balance is made of."""
    kept, rejected = outcomes["kept"], outcomes["rejected"]
    return (
        outcomes["inputs"] | "CountInput" >> accounting.CountBy(accounting.input_key),
        kept | "CountKept" >> accounting.CountBy(accounting.kept_key),
        rejected | "CountRejected" >> accounting.CountBy(accounting.rejected_key),
        outcomes["duplicates"] | "CountDuplicates" >> accounting.CountBy(accounting.duplicate_key),
        (kept, rejected)
        | "Judged" >> beam.Flatten()
        | "CountModified" >> accounting.CountModified(),
    ) | "AllCounts" >> beam.Flatten()


def _statistics(outcomes: dict, job: CorpusJob) -> None:
    config = job.config
    stages = [*names.TEXT_BEFORE_FILTERS, *_filter_stages(config), *names.TEXT_AFTER_FILTERS]
    judged = (outcomes["inputs"], outcomes["kept"], outcomes["rejected"])
    domains = judged | "Domains" >> TopDomains(
        config.url_filter.top_domains, config.url_filter.url_field
    )
    removed = (outcomes["kept"], outcomes["rejected"], outcomes["duplicates"])
    _ = removed | "Statistics" >> RunStatistics(
        job.facts.output,
        cuts_from_filters(config.filters),
        stages,
        sections={"domains": domains},
        records=outcomes["records"],
    )


def build_corpus_pipeline(pipeline: beam.Pipeline, job: CorpusJob):
    """Add the whole job to `pipeline`; returns the manifest path PCollection."""
    examples, read_rejected = _text_reads(pipeline, job)
    media = _media_sources(pipeline, job)
    text = _text_stages(examples, job.config, job)
    tokenized = text["tokenize"]
    text_rejected = [text[stage]["rejected"] for stage in TEXT_STAGES]
    outcomes = {
        "inputs": [examples, read_rejected, *(m["inputs"] for m in media)],
        "kept": [tokenized["kept"], *(m["kept"] for m in media)],
        "records": [tokenized["records"], *(m["records"] for m in media)],
        "rejected": [read_rejected, *text_rejected, *(m["rejected"] for m in media)],
        "duplicates": [text["dedup"]["duplicates"], *(m["duplicates"] for m in media)],
    }
    outcomes = {
        name: _flatten(parts, f"All{name.title()}", pipeline) for name, parts in outcomes.items()
    }
    shards, rejected_files, duplicate_files = _write_outputs(outcomes, job)
    _statistics(outcomes, job)
    return pipeline | "Manifest" >> WriteManifest(
        job.facts,
        shards["train"],
        rejected_files,
        duplicate_files,
        _counts(outcomes),
        eval_shards=shards["eval"],
    )
