"""The training loop: manifest + model preset in, checkpoints and metrics out.

Order matters for failure handling: every check that can refuse the run (manifest,
vocabulary, mesh, resume compatibility) runs before the model is built. Signals only
set a flag; the loop finishes the step in flight, saves, and returns, so a SIGTERM
from a scheduler costs at most one step and never a half-written checkpoint.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polymix.core.errors import UserFacingError
from polymix.core.manifest import manifest_location, sha256_file
from polymix.trainer.config import TrainConfig, resume_conflicts
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


class _StopFlag:
    """SIGTERM/SIGINT -> a flag the loop polls; previous handlers come back on exit."""

    def __init__(self) -> None:
        self.signal: str | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopFlag]:
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


def _next_batch(loader: Any) -> dict[str, np.ndarray]:
    """The next batch; a record the model's media sizes cannot hold is a user error."""
    from polymix.trainer.data import RecordLayoutError

    try:
        return next(loader)
    except RecordLayoutError as exc:
        raise PreflightError(
            f"{exc}. The model's media sizes must match the pipeline's: set "
            "model.n_mels, model.frame_stack, model.patch_size or model.image_channels"
        ) from exc


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        arr = np.asarray(value)
        if arr.ndim == 0:
            out[key] = bool(arr) if arr.dtype == bool else float(arr)
    return out


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
    model_cfg = cfg.model_config()
    manifest_path, _ = manifest_location(manifest_path)  # a local file or a gs:// URL
    _, seq_len = check_manifest(manifest_path, model_cfg, cfg)

    import jax

    from polymix.model.sharding import ShardingRules, make_mesh

    if cfg.compilation_cache:
        use_compilation_cache(cfg.compilation_cache)

    shape = cfg.mesh_shape(jax.device_count())
    check_mesh(shape, jax.device_count(), cfg)

    from polymix.trainer.checkpoint import Checkpoints

    ckpt_dir = Path(checkpoint_dir)
    # The top level lists every index file's sha256, so its own covers all the data.
    fingerprint = sha256_file(manifest_path)
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
            latest = ckpts.newest_intact(_warn)
            _check_resume(ckpts.read_meta(latest), cfg, fingerprint)
        rules = ShardingRules(make_mesh(shape))
        return _run(
            cfg, model_cfg, seq_len, manifest_path, ckpts, latest, fingerprint, rules, batch_hook
        )
    finally:
        ckpts.close()


def _warn(message: str) -> None:
    import jax

    if jax.process_index() == 0:  # every process sees the same files: one says it
        print(f"polymix train: {message}", file=sys.stderr)


def _check_resume(meta: dict[str, Any], cfg: TrainConfig, fingerprint: str) -> None:
    saved = TrainConfig.from_dict(meta["config"])
    conflicts = resume_conflicts(saved, cfg)
    if conflicts:
        listed = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in conflicts.items())
        raise PreflightError(f"cannot resume with changed settings ({listed})")
    if meta.get("manifest_sha256") != fingerprint:
        raise PreflightError(
            "the manifest differs from the one this run started with (sha256 mismatch); "
            "resume needs the same data"
        )


def _run(
    cfg: TrainConfig,
    model_cfg: Any,
    seq_len: int,
    manifest_path: str,
    ckpts: Any,
    latest: int | None,
    fingerprint: str,
    rules: Any,
    batch_hook: BatchHook | None,
) -> TrainResult:
    import jax

    from polymix.model.counting import flops_per_token
    from polymix.model.params import shardings_of
    from polymix.model.transformer import init_params, param_info
    from polymix.trainer.checkpoint import abstract_like
    from polymix.trainer.chips import device_peak_flops
    from polymix.trainer.data import make_loader
    from polymix.trainer.metrics import MetricsLog, plot_loss
    from polymix.trainer.optimizer import decay_mask, make_optimizer, schedule
    from polymix.trainer.step import (
        batch_shardings,
        init_state,
        make_step,
        state_shardings,
        to_global,
    )

    loader = make_loader(
        manifest_path,
        seq_len=seq_len,
        global_batch_size=cfg.global_batch_size,
        seed=cfg.seed,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
        worker_count=cfg.loader_workers,
        read_threads=cfg.loader_threads,
        patch_dim=model_cfg.patch_dim,
        n_mels=model_cfg.n_mels,
        audio_stack=model_cfg.frame_stack,
        verify_checksums=cfg.verify == "lazy",  # verify=full hashed every shard already
    )
    info = param_info(model_cfg)
    optimizer = make_optimizer(cfg, decay_mask(info, cfg))
    param_sh = shardings_of(info, rules)
    abstract_params = jax.eval_shape(lambda k: init_params(model_cfg, k), jax.random.key(cfg.seed))
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), abstract_params)
    shardings = state_shardings(abstract_state, param_sh, rules.mesh)
    if latest is not None:
        state, latest = ckpts.restore_newest(
            latest,
            abstract_like(abstract_state, shardings),
            loader,
            lambda meta: _check_resume(meta, cfg, fingerprint),
            _warn,
        )
    else:
        params = init_params(model_cfg, jax.random.key(cfg.seed), rules)
        state = jax.jit(lambda p: init_state(p, optimizer), out_shardings=shardings)(params)
    start = int(jax.device_get(state["step"]))

    primary = jax.process_index() == 0
    log = MetricsLog(
        ckpts.directory,
        start_step=start,
        total_steps=cfg.steps,
        progress=cfg.progress and primary,
        tensorboard=primary,
    )
    for warning in cfg.warnings():
        log.message(f"warning: {warning}")
    if latest is not None:
        log.message(f"resumed from step {start} in {ckpts.directory}")
        if cfg.decay_steps == 0:
            log.message(
                "note: decay_steps=0 follows `steps`; a changed --steps reshapes the schedule"
            )
    train_flops = flops_per_token(model_cfg, seq_len)["train"]
    peak, peak_source = device_peak_flops(cfg.peak_tflops)
    peak_total = peak * rules.mesh.size
    meta = {"config": cfg.to_dict(), "manifest_sha256": fingerprint, "peak_source": peak_source}

    result = TrainResult(start, start, int(jax.device_get(state["skipped"])), None, latest)
    step_fn = None
    b_shard = None
    stop = _StopFlag()
    step = start
    try:
        with stop.installed():
            while step < cfg.steps:
                batch = _next_batch(loader)
                if batch_hook is not None:
                    batch = batch_hook(step, batch)
                if step_fn is None:
                    b_shard = batch_shardings(rules, batch)
                    step_fn = make_step(
                        model_cfg,
                        rules,
                        optimizer,
                        schedule(cfg),
                        shardings,
                        b_shard,
                        grad_accum=cfg.grad_accum,
                    )
                began = time.perf_counter()
                state, metrics = step_fn(state, to_global(batch, b_shard))
                record = _scalars(jax.device_get(metrics))
                elapsed = time.perf_counter() - began
                step += 1
                positions = int(np.prod(batch["tokens"].shape)) * jax.process_count()
                record.update(
                    step=step,
                    step_time_s=elapsed,
                    tokens_per_s=positions / elapsed,
                    mfu=positions * train_flops / elapsed / peak_total,
                )
                if primary:
                    log.write(record)
                result.losses.append(record["loss"])
                result.skipped = int(record["skipped"])
                result.final_step = step
                if not record["finite"]:
                    log.message(f"step {step}: non-finite loss or gradient; update skipped")
                if record["bad_streak"] >= cfg.max_bad_steps:
                    last = ckpts.latest_step()
                    where = f"step {last} in {ckpts.directory}" if last is not None else "none"
                    raise TrainingDiverged(
                        f"{int(record['bad_streak'])} non-finite steps in a row (through step "
                        f"{step}); stopped. Last good checkpoint: {where}"
                    )
                if stop.signal or step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    ckpts.save(step, state, loader, {**meta, "step": step})
                    result.checkpoint_step = step
                if stop.signal:
                    result.stopped_by = stop.signal
                    log.message(
                        f"{stop.signal}: saved step {step} in {ckpts.directory}; "
                        "continue with --resume"
                    )
                    break
    finally:
        log.close()
        loader.close()
    if cfg.plot and primary:
        plot_loss(ckpts.directory)
    result.state = state
    return result
