"""Launch the corpus job: every check that can fail fails here, before any work starts."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from polymix.core.config import Config
from polymix.core.errors import UserFacingError
from polymix.core.manifest import MANIFEST_NAME, Manifest, TokenizerInfo, parse_manifest

OUTPUT_PARTS = (
    "shards",
    "rejected",
    "duplicates",
    "report",
    "stats.json",
    MANIFEST_NAME,
    "index",  # the manifest's index files
    "tokenizer.model",
)


@dataclass
class Prepared:
    job: object  # pipelines.corpus.CorpusJob, typed loosely to keep Beam out of this import
    output: str
    warnings: list[str]


def is_remote(path: str) -> bool:
    return "://" in path


def prepare_output(output: str, *, overwrite: bool, dry_run: bool = False) -> str:
    """The absolute output root; refuses to mix a new run into an old one."""
    from apache_beam.io.filesystems import FileSystems

    if is_remote(output):
        root = output.rstrip("/")
        if dry_run:  # a dry run may name a bucket it cannot reach
            return root
    else:
        root = str(Path(output).resolve())
        parent = Path(root).parent
        if not parent.is_dir():
            raise UserFacingError(f"output location's parent folder {parent} does not exist")
        if dry_run:
            return root
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
    from polymix.pipelines.file_io import read_bytes
    from polymix.transforms.sentencepiece_tokenizer import BOS_ID, EOS_ID, PAD_ID, TextTokenizer

    path = config.resolve(config.tokenizer.model)
    try:
        proto = read_bytes(path)
    except Exception:
        raise UserFacingError(
            f"tokenizer model {path} cannot be read (tokenizer.model); train it with "
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


def matched_patterns(
    config: Config, *, dry_run: bool = False
) -> tuple[dict[str, list[str]], list[str]]:
    """Per source, the globs that match a file; remote globs are not listed in a dry run."""
    from polymix.pipelines.read import check_patterns

    patterns: dict[str, list[str]] = {}
    warnings: list[str] = []
    for source in config.sources:
        resolved = [config.resolve(p) for p in source.paths]
        if dry_run and any(is_remote(p) for p in resolved):
            warnings.append(f"source {source.name}: remote inputs not listed in a dry run")
            patterns[source.name] = resolved
            continue
        matched, empty = check_patterns(resolved)
        if not matched:
            raise UserFacingError(
                f"sources[{source.name}].paths: no file matches {source.paths} "
                f"(resolved against {config.base_dir})"
            )
        warnings += [f"source {source.name}: pattern {p} matches no file" for p in empty]
        patterns[source.name] = matched
    return patterns, warnings


def with_resolved_models(config: Config) -> Config:
    """Model paths in `filters` made relative to the config file, like every other path."""
    filters = config.filters
    updates = {}
    for section in ("language", "quality_classifier"):
        settings = getattr(filters, section)
        if settings.model_path:
            updates[section] = settings.model_copy(
                update={"model_path": config.resolve(settings.model_path)}
            )
    return config.model_copy(update={"filters": filters.model_copy(update=updates)})


def check_filter_models(config: Config) -> None:
    from polymix.pipelines.quality import check_models

    try:
        check_models(config.filters)
    except (FileNotFoundError, ValueError) as exc:
        raise UserFacingError(f"filters: {exc}") from None


def prepare(config: Config, output: str, *, overwrite: bool, dry_run: bool = False) -> Prepared:
    from polymix.mixture import check_mixture_config
    from polymix.pipelines.corpus import CorpusJob
    from polymix.pipelines.manifest_writer import RunFacts

    check_mixture_config(config.mixture, {s.name: s.modality for s in config.sources})
    config = with_resolved_models(config)
    check_filter_models(config)
    tokenizer, proto = tokenizer_facts(config)
    patterns, warnings = matched_patterns(config, dry_run=dry_run)
    root = prepare_output(output, overwrite=overwrite, dry_run=dry_run)
    facts = RunFacts(
        output=root,
        polymix_version=version("polymix"),
        config_hash=config.fingerprint(),
        max_seq_len=config.shards.max_seq_len,
        sources={s.name: (s.modality, s.weight) for s in config.sources},
        tokenizer=tokenizer,
        tokenizer_bytes=proto,
        minhash=config.near_dedup.scheme() if config.near_dedup.enabled else None,
        warnings=tuple(w for w in warnings if "dry run" not in w),
        mixture=config.mixture,
    )
    return Prepared(CorpusJob(config, patterns, facts, proto), root, warnings)


def default_setup_file() -> str:
    """The repository's setup.py shim, so Dataflow workers install polymix and its pins."""
    setup = Path(__file__).resolve().parents[1] / "setup.py"
    if not setup.is_file():
        raise UserFacingError(
            "DataflowRunner needs polymix staged for its workers: pass --sdk_container_image "
            "(see Dockerfile) or --setup_file pointing at a polymix checkout's setup.py"
        )
    return str(setup)


def pipeline_options(beam_args: list[str], *, dry_run: bool = False):
    """Beam options from the pass-through flags; DirectRunner unless told otherwise."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    args = list(beam_args)
    if PipelineOptions(args).view_as(StandardOptions).runner is None:
        args.insert(0, "--runner=DirectRunner")
    on_dataflow = "DataflowRunner" in (PipelineOptions(args).view_as(StandardOptions).runner or "")
    staging = ("--setup_file", "--sdk_container_image", "--extra_package", "--requirements_file")
    if on_dataflow and not any(a.startswith(staging) for a in args):
        args.append(f"--setup_file={default_setup_file()}")
    if dry_run and on_dataflow:
        args += ["--dry_run=True"]
        if not any(a.startswith("--no_auth") for a in args):
            args.append("--no_auth")
        if not any(a.startswith("--sdk_location") for a in args):
            args.append("--sdk_location=container")
    return PipelineOptions(args)


def new_pipeline(options):
    """A Beam pipeline; Beam's option validation errors become user-facing errors."""
    import apache_beam as beam

    try:
        return beam.Pipeline(options=options)
    except ValueError as exc:
        raise UserFacingError(f"Beam refused the pipeline options: {exc}") from None


def run_corpus(prepared: Prepared, beam_args: list[str]) -> Manifest:

    from polymix.pipelines.corpus import build_corpus_pipeline
    from polymix.pipelines.file_io import read_bytes
    from polymix.progress import run_with_progress

    pipeline = new_pipeline(pipeline_options(beam_args))
    build_corpus_pipeline(pipeline, prepared.job)
    run_with_progress(pipeline)
    path = f"{prepared.output}/{MANIFEST_NAME}"
    return parse_manifest(read_bytes(path).decode("utf-8"), origin=path)


def dry_run(prepared: Prepared, beam_args: list[str]) -> list[str]:
    """Build the whole graph for the chosen runner, submit nothing; returns the stage names.

    For DataflowRunner this goes as far as translating the graph into a Dataflow job
    (Beam's own `--dry_run`), which catches what a cloud submission would reject
    before any worker starts.
    """

    from polymix.pipelines.corpus import build_corpus_pipeline

    options = pipeline_options(beam_args, dry_run=True)
    pipeline = new_pipeline(options)
    build_corpus_pipeline(pipeline, prepared.job)
    stages = pipeline_stages(pipeline)
    runner = str(options.get_all_options().get("runner"))
    if "DataflowRunner" in runner:
        pipeline.run().wait_until_finish()
    return stages


def pipeline_stages(pipeline) -> list[str]:
    """Full names of the composite transforms one level below each top-level stage."""
    proto = pipeline.to_runner_api()
    transforms = proto.components.transforms
    names: list[str] = []

    def walk(transform_id: str, depth: int) -> None:
        transform = transforms[transform_id]
        if transform.unique_name and depth <= 2:
            names.append(transform.unique_name)
        for child in transform.subtransforms:
            walk(child, depth + 1)

    for root in proto.root_transform_ids:
        walk(root, 0)
    return names


def summary(manifest: Manifest, *, table: bool = True) -> str:
    """Per-source accounting (unless the report's table is shown instead), bad input, warnings."""
    lines = []
    if table:
        lines.append(
            f"{'source':<14}{'input':>9}{'kept':>9}{'dupes':>9}{'rejected':>10}{'records':>9}{'tokens':>12}"
        )
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
