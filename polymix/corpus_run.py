"""Launch the corpus job: every check that can fail fails here, before any work starts."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from polymix.config import Config
from polymix.errors import UserFacingError
from polymix.manifest import MANIFEST_NAME, Manifest, TokenizerInfo, load_manifest

OUTPUT_PARTS = ("shards", "rejected", "duplicates", "report", MANIFEST_NAME, "tokenizer.model")


@dataclass
class Prepared:
    job: object  # pipelines.corpus.CorpusJob, typed loosely to keep Beam out of this import
    output: str
    warnings: list[str]


def _is_remote(path: str) -> bool:
    return "://" in path


def prepare_output(output: str, *, overwrite: bool) -> str:
    from apache_beam.io.filesystems import FileSystems

    if _is_remote(output):
        root = output.rstrip("/")
    else:
        root = str(Path(output).resolve())
        parent = Path(root).parent
        if not parent.is_dir():
            raise UserFacingError(f"output location's parent folder {parent} does not exist")
        Path(root).mkdir(exist_ok=True)
    previous = [f"{root}/{part}" for part in OUTPUT_PARTS if FileSystems.exists(f"{root}/{part}")]
    if previous and not overwrite:
        raise UserFacingError(
            f"{root} already holds a run ({', '.join(os.path.basename(p) for p in previous)}); "
            "pass --overwrite to replace it"
        )
    if previous:
        FileSystems.delete(previous)
    return root


def tokenizer_facts(config: Config) -> tuple[TokenizerInfo, bytes]:
    from transforms.sentencepiece_tokenizer import BOS_ID, EOS_ID, PAD_ID, TextTokenizer

    path = config.resolve(config.tokenizer.model)
    try:
        proto = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserFacingError(
            f"tokenizer model {path} does not exist (tokenizer.model); train it with "
            "`polymix tokenizer train CONFIG`"
        ) from None
    tokenizer = TextTokenizer(proto, config.shards.max_seq_len)
    info = TokenizerInfo(
        path="tokenizer.model",
        sha256=hashlib.sha256(proto).hexdigest(),
        vocab_size=tokenizer.vocab_size,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=PAD_ID,
        specials=tokenizer.specials(),
    )
    return info, proto


def matched_patterns(config: Config) -> tuple[dict[str, list[str]], list[str]]:
    from pipelines.read import check_patterns

    patterns: dict[str, list[str]] = {}
    warnings: list[str] = []
    for source in config.sources:
        resolved = [config.resolve(p) for p in source.paths]
        matched, empty = check_patterns(resolved)
        if not matched:
            raise UserFacingError(
                f"sources[{source.name}].paths: no file matches {source.paths} "
                f"(resolved against {config.base_dir})"
            )
        warnings += [f"source {source.name}: pattern {p} matches no file" for p in empty]
        patterns[source.name] = matched
    return patterns, warnings


def prepare(config: Config, output: str, *, overwrite: bool) -> Prepared:
    from pipelines.corpus import CorpusJob
    from pipelines.manifest_writer import RunFacts

    unsupported = [s.name for s in config.sources if s.modality not in ("text", "code")]
    if unsupported:
        raise UserFacingError(
            f"sources {unsupported}: only text and code modalities are supported yet"
        )
    tokenizer, proto = tokenizer_facts(config)
    patterns, warnings = matched_patterns(config)
    root = prepare_output(output, overwrite=overwrite)
    facts = RunFacts(
        output=root,
        polymix_version=version("polymix"),
        config_hash=config.fingerprint(),
        max_seq_len=config.shards.max_seq_len,
        sources={s.name: (s.modality, s.weight) for s in config.sources},
        tokenizer=tokenizer,
        tokenizer_bytes=proto,
        minhash=None,
        warnings=tuple(warnings),
    )
    return Prepared(CorpusJob(config, patterns, facts, proto), root, warnings)


def run_corpus(prepared: Prepared, beam_args: list[str]) -> Manifest:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.corpus import build_corpus_pipeline

    options = PipelineOptions(beam_args)
    if options.get_all_options().get("runner") is None:
        options = PipelineOptions(["--runner=DirectRunner", *beam_args])
    with beam.Pipeline(options=options) as pipeline:
        build_corpus_pipeline(pipeline, prepared.job)
    return load_manifest(f"{prepared.output}/{MANIFEST_NAME}")


def summary(manifest: Manifest) -> str:
    lines = [
        f"{'source':<14}{'input':>9}{'kept':>9}{'dupes':>9}{'rejected':>10}{'records':>9}{'tokens':>12}"
    ]
    for name, t in sorted(manifest.sources.items()):
        lines.append(
            f"{name:<14}{t.input:>9}{t.kept:>9}{t.duplicates_total:>9}{t.rejected_total:>10}"
            f"{t.records:>9}{t.tokens:>12}"
        )
        for stage, reasons in sorted(t.rejected.items()):
            detail = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
            lines.append(f"{'':<14}rejected at {stage}: {detail}")
    bad = sum(n for t in manifest.sources.values() for n in t.rejected.get("read", {}).values())
    lines.append(
        f"bad input (unreadable, malformed, empty): {bad} example(s), see rejected/*/read/"
    )
    lines += [f"warning: {w}" for w in manifest.warnings]
    return "\n".join(lines)
