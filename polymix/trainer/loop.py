"""The training loop: manifest + model preset in, checkpoints and metrics out.

Order matters for failure handling: every check that can refuse the run (manifest,
vocabulary, mesh, resume compatibility) runs before the model is built (`run.build_run`).
Signals only set a flag; the flag rides into the next step, which all-reduces it over
every process, so all hosts learn of a SIGTERM on any one of them at the same step,
save that step together and return: a preemption costs at most two steps and never a
half-written checkpoint or a host left waiting in a collective.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polymix.core.errors import UserFacingError
from polymix.core.manifest import manifest_location, sha256_file
from polymix.trainer.config import TrainConfig
from polymix.trainer.evaluation import check_eval, check_mixture
from polymix.trainer.preflight import PreflightError, check_manifest, check_mesh

BatchHook = Callable[[int, dict[str, np.ndarray]], dict[str, np.ndarray]]


class TrainingDiverged(UserFacingError):
    """Too many non-finite steps in a row; the last good checkpoint is untouched."""


@dataclass
class TrainResult:
    start_step: int
    final_step: int
    skipped: int
    stopped_by: str | None  # "SIGTERM" / "SIGINT" when interrupted
    checkpoint_step: int | None
    losses: list[float] = field(default_factory=list)
    state: Any = None  # the final train state (for tests; device arrays)


class StopFlag:
    """SIGTERM/SIGINT -> a flag the loop polls; previous handlers come back on exit.

    Public because anything that trains in this process (the training loop, a proxy
    sweep) must stop at a step boundary on a signal rather than die mid-write; outside
    the main thread it installs nothing and the flag stays unset.
    """

    def __init__(self) -> None:
        self.signal: str | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        previous = {}

        def handler(signum: int, _frame: Any) -> None:
            self.signal = signal.Signals(signum).name

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: leave signals to the caller
            pass
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def next_batch(loader: Any) -> dict[str, np.ndarray]:
    """The next batch; a record the model's media sizes cannot hold is a user error.

    Every consumer of a trainer loader (the loop, proxies side by side) reads through
    this, so a media-size mismatch reads as the same actionable message everywhere
    instead of a bare layout error from deep in the loader.
    """
    from polymix.trainer.data import RecordLayoutError

    try:
        return next(loader)
    except RecordLayoutError as exc:
        raise PreflightError(
            f"{exc}. The model's media sizes must match the pipeline's: set "
            "model.n_mels, model.frame_stack, model.patch_size or model.image_channels"
        ) from exc


def use_compilation_cache(folder: str | Path, min_compile_s: float = 0.5) -> None:
    """XLA's persistent cache in `folder`: a resumed or repeated run skips compiling."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", str(Path(folder).absolute()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
    compilation_cache.reset_cache()  # re-read the settings even if jax compiled before


def train(
    cfg: TrainConfig,
    manifest_path: str | Path,
    checkpoint_dir: str | Path,
    *,
    resume: bool = False,
    batch_hook: BatchHook | None = None,
) -> TrainResult:
    """Train to `cfg.steps`; `batch_hook(step, batch)` may edit batches (tests only)."""
    from polymix.trainer.distributed import ensure_distributed

    ensure_distributed()
    model_cfg = cfg.resolved_model()
    manifest_path, _ = manifest_location(manifest_path)  # a local file or a gs:// URL
    manifest, seq_len = check_manifest(manifest_path, model_cfg, cfg)
    check_mixture(manifest, cfg)
    check_eval(manifest, cfg)

    import jax

    if cfg.compilation_cache:
        use_compilation_cache(cfg.compilation_cache)

    shape = cfg.mesh_shape(jax.device_count())
    check_mesh(shape, jax.device_count(), cfg)

    from polymix.trainer.checkpoint import Checkpoints
    from polymix.trainer.distributed import barrier
    from polymix.trainer.resume import check_resume
    from polymix.trainer.run import build_run, warn_once

    ckpt_dir = Path(checkpoint_dir)
    # The top level lists every index file's sha256, so its own covers all the data.
    fingerprint = sha256_file(manifest_path)
    barrier("checked")  # every process verified the manifest; orbax's first sync follows
    ckpts = Checkpoints(ckpt_dir, cfg.keep_checkpoints)
    try:
        latest = ckpts.latest_step()
        if latest is None and resume:
            print(f"--resume: no checkpoint in {ckpt_dir}; starting at step 0", file=sys.stderr)
        if latest is not None and not resume:
            raise PreflightError(
                f"{ckpt_dir} already holds checkpoints (latest step {latest}); pass --resume "
                "to continue that run, or use an empty --checkpoint-dir"
            )
        if latest is not None:
            latest = ckpts.newest_intact(warn_once)
            cfg = check_resume(ckpts.read_meta(latest), cfg, fingerprint)
        else:
            cfg = cfg.with_schedule_fixed()
        run = build_run(cfg, model_cfg, seq_len, manifest_path, ckpts, latest, fingerprint, shape)
        try:
            result = run_loop(run, run.resumed_from, batch_hook)
        finally:
            run.close()
        if cfg.plot and run.primary:
            from polymix.trainer.metrics import plot_loss

            plot_loss(ckpts.directory)
        return result
    finally:
        ckpts.close()


def _announce(run: Any, latest: int | None) -> None:
    from polymix.trainer.resume import schedule_note

    if latest is not None:
        run.log.message(f"resumed from step {run.start} in {run.ckpts.directory}")
    for warning in run.cfg.warnings():
        run.log.message(f"warning: {warning}")
    note = schedule_note(run.cfg)
    if note:
        run.log.message(note)
    run.log.message(f"attention: {run.meta['attention']}; processes: {run.meta['processes']}")


def _check_streak(run: Any, record: dict[str, Any]) -> None:
    step = record["step"]
    if not record["finite"]:
        run.log.message(f"step {step}: non-finite loss or gradient; update skipped")
    if record["bad_streak"] >= run.cfg.max_bad_steps:
        last = run.ckpts.latest_step()
        where = f"step {last} in {run.ckpts.directory}" if last is not None else "none"
        raise TrainingDiverged(
            f"{int(record['bad_streak'])} non-finite steps in a row (through step "
            f"{step}); stopped. Last good checkpoint: {where}"
        )


def run_loop(run: Any, latest: int | None, batch_hook: BatchHook | None) -> TrainResult:
    """Steps until `cfg.steps` or an agreed stop; checkpoints on schedule and at the end."""
    import jax

    _announce(run, latest)
    skipped = int(jax.device_get(run.state["skipped"]))
    result = TrainResult(run.start, run.start, skipped, None, latest)
    stop = StopFlag()
    step = run.start
    with stop.installed():
        while step < run.cfg.steps:
            batch = next_batch(run.loader)
            if batch_hook is not None:
                batch = batch_hook(step, batch)
            record = run.step(step + 1, batch, stop.signal is not None)
            step += 1
            if step == run.cfg.steps or (run.cfg.eval_every and step % run.cfg.eval_every == 0):
                record.update(run.evaluate())  # on this step's line, before it is written
            run.log.write(record)
            result.losses.append(record["loss"])
            result.skipped = int(record["skipped"])
            result.final_step = step
            _check_streak(run, record)
            stopping = bool(record["stop"])
            if stopping or step % run.cfg.checkpoint_every == 0 or step == run.cfg.steps:
                run.save(step)
                result.checkpoint_step = step
            if stopping:
                result.stopped_by = stop.signal or "SIGTERM"
                who = stop.signal or "a signal to another process"
                run.log.message(
                    f"{who}: saved step {step} in {run.ckpts.directory}; continue with --resume"
                )
                break
    result.state = run.state
    return result
