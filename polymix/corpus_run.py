"""Launch the corpus job: every check that can fail fails here, before any work starts."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import re
import tempfile
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from polymix.core.config import Config
from polymix.core.errors import UserFacingError
from polymix.core.manifest import MANIFEST_NAME, Manifest, TokenizerInfo


@dataclass
class Prepared:
    job: object  # pipelines.corpus.CorpusJob, typed loosely to keep Beam out of this import
    output: str
    warnings: list[str]
    overwrite: bool = False


@dataclass
class Finished:
    manifest: Manifest
    notices: list[str]  # dead runs cleaned, locks taken over
    report_table: str | None
    report_html: str | None


def is_remote(path: str) -> bool:
    return "://" in path


def _local_root(output: str) -> str:
    """The absolute output folder; one line for a file in the way or a missing parent."""
    root = Path(output).resolve()
    if root.exists() and not root.is_dir():
        raise UserFacingError(f"--output {output}: {root} is a file, not a folder")
    for ancestor in root.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UserFacingError(f"--output {output}: {ancestor} is a file, not a folder")
            break
    if not root.parent.is_dir():
        raise UserFacingError(f"output location's parent folder {root.parent} does not exist")
    return str(root)


def prepare_output(output: str, *, overwrite: bool, dry_run: bool = False) -> str:
    """The absolute output root; refuses foreign files in the way and unasked replacement."""
    if is_remote(output):
        root = output.rstrip("/")
        if dry_run:  # a dry run may name a bucket it cannot reach
            return root
    else:
        root = _local_root(output)
    from polymix.run_output import check_output

    check_output(root, overwrite=overwrite)
    if not dry_run and not is_remote(root):
        Path(root).mkdir(exist_ok=True)
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
    except UserFacingError:
        raise
    except (FileNotFoundError, ValueError) as exc:
        raise UserFacingError(f"filters: {exc}") from None


def prepare(config: Config, output: str, *, overwrite: bool, dry_run: bool = False) -> Prepared:
    from polymix.core.mixture import check_mixture_config
    from polymix.launch_checks import check_inputs
    from polymix.pipelines.corpus import CorpusJob
    from polymix.pipelines.manifest_writer import RunFacts
    from polymix.transforms.minhash import manifest_scheme

    check_mixture_config(config.mixture, {s.name: s.modality for s in config.sources})
    config_hash = config.fingerprint()  # of the config as written: the same from any folder
    config = with_resolved_models(config)
    check_filter_models(config)
    tokenizer, proto = tokenizer_facts(config)
    check_inputs(config, dry_run=dry_run)  # each source's first records, read as configured
    patterns, warnings = matched_patterns(config, dry_run=dry_run)
    root = prepare_output(output, overwrite=overwrite, dry_run=dry_run)
    facts = RunFacts(
        output=root,
        polymix_version=version("polymix"),
        config_hash=config_hash,
        max_seq_len=config.shards.max_seq_len,
        sources={s.name: (s.modality, s.weight) for s in config.sources},
        tokenizer=tokenizer,
        tokenizer_bytes=proto,
        minhash=manifest_scheme(config.near_dedup) if config.near_dedup.enabled else None,
        warnings=tuple(w for w in warnings if "dry run" not in w),
        mixture=config.mixture,
        media=config.media.layout(s.modality for s in config.sources),
    )
    return Prepared(CorpusJob(config, patterns, facts, proto), root, warnings, overwrite)


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


_NO_SPACE = re.compile(r"No space left on device: '([^']+)'")


def _full_location(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and exc.filename:
        return str(exc.filename)
    found = _NO_SPACE.search(str(exc))
    return found.group(1) if found else None


def disk_full(exc: BaseException, output: str) -> UserFacingError | None:
    """One line for a full disk anywhere in the run (a worker's traceback is text by now)."""
    from polymix.pipelines.file_io import StorageFull, is_disk_full

    if not (is_disk_full(exc) or "No space left on device" in str(exc)):
        return None
    where = _full_location(exc)
    if not where:
        where = f"{output} (or the workers' scratch folder {tempfile.gettempdir()})"
    return StorageFull(
        f"no space left on the device while writing {where}; the previous run in {output} "
        "is untouched and this run's partial files were removed"
    )


@dataclass
class _Staged:
    """A slot the pipeline filled, with its report rendered and staged: ready to publish."""

    manifest: Manifest
    report: str  # the staging folder of the report
    table: str
    notices: list[str]


def _execute(prepared: Prepared, beam_args: list[str], slot: str, report: str) -> _Staged:
    """Run the pipeline into `slot`, then render the report into `report` (not yet live)."""
    from polymix.pipelines.corpus import build_corpus_pipeline
    from polymix.progress import run_with_progress
    from polymix.report.render import render_files, stage_report
    from polymix.report.table import render_table
    from polymix.slot_deletion import finished_manifest

    job = prepared.job
    job = replace(job, facts=replace(job.facts, output=slot))  # type: ignore[type-var]
    pipeline = new_pipeline(pipeline_options(beam_args))
    build_corpus_pipeline(pipeline, job)
    result = run_with_progress(pipeline, inputs=job.patterns)
    manifest = finished_manifest(slot)
    if manifest is None:
        raise UserFacingError(f"{slot}/{MANIFEST_NAME}: the pipeline finished without it")
    files, data = render_files(slot, shown_as=prepared.output)
    stage_report(prepared.output, files, report)
    return _Staged(manifest, report, render_table(data), unconverged_notices(result))


def unconverged_notices(result: Any) -> list[str]:
    """What the run could not finish deciding: clusters still changing after the last round.

    Dedup stays correct when the rounds run out (each unfinished cluster is cut into the
    stars it reached), it only keeps more than it would have; the counter says how much.
    """
    from polymix.progress import counter_totals

    try:
        totals = counter_totals(result)
    except Exception:  # noqa: BLE001  (a runner without metrics: nothing to say)
        return []
    nodes = totals.get("connected_components.unfinished_nodes", 0)
    if not nodes:
        return []
    return [
        f"duplicate clusters of {nodes:,} documents were still merging after the last "
        "connected-components round and were cut into smaller clusters (more documents "
        "kept than needed); raise near_dedup.max_rounds (media: "
        "media.perceptual_dedup.max_rounds) to finish them"
    ]


def _after_publishing(output: str, staged: _Staged, previous) -> list[str]:
    """Swap the report in and delete the replaced run; never raises: the run is live."""
    from polymix.report.render import swap_staged_report
    from polymix.run_output import retire

    notices = []
    try:
        swap_staged_report(output, staged.report)
    except Exception as exc:  # noqa: BLE001  (the published run is fine; say what is not)
        notices.append(f"the report was not updated ({exc}); run `polymix report {output}`")
    try:
        notices += retire(output, previous)
    except Exception as exc:  # noqa: BLE001
        notices.append(f"the replaced run was not deleted ({exc}); the next run deletes it")
    return notices


def _prepare_slot(output: str, overwrite: bool) -> tuple[str, object, list[str]]:
    """Once the lease is held: check again, clear what stopped runs left, claim a slot."""
    from polymix.run_output import (
        check_output,
        clear_staging,
        clear_unpublished,
        live_run,
        next_slot,
    )

    check_output(output, overwrite=overwrite)
    previous = live_run(output)
    notices = clear_staging(output) + clear_unpublished(output, previous)
    return next_slot(previous), previous, notices


def run_corpus(prepared: Prepared, beam_args: list[str], *, break_lock: bool = False) -> Finished:
    """Run into a free slot under the output's lease; publish only what fully succeeded."""
    from polymix.run_lock import acquire, release
    from polymix.run_output import abandon, claim_slot, publish, staged_report

    output = prepared.output
    lease, broken = acquire(output, break_lock=break_lock)
    slot = None
    try:
        notices = [f"{broken.describe()} had stopped; took over its lock"] if broken else []
        slot, previous, cleared = _prepare_slot(output, prepared.overwrite)
        notices += cleared
        folder = claim_slot(output, slot)
        staged = _execute(prepared, beam_args, folder, staged_report(output, lease.run_id))
        manifest = publish(output, lease, slot, staged.manifest)
        notices += staged.notices
    except BaseException as exc:
        if slot is not None:
            _quietly(abandon, output, slot, lease.run_id)
        full = disk_full(exc, output)
        _quietly(release, output, lease)
        if full is not None:
            raise full from None
        raise
    try:
        notices += _after_publishing(output, staged, previous)
    finally:
        _quietly(release, output, lease)
    html = f"{output}/report/index.html"
    return Finished(manifest, notices, staged.table, html)


def _quietly(cleanup, *args) -> None:
    with contextlib.suppress(Exception):  # the run's own error is the one to report
        cleanup(*args)


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
