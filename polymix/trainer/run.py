"""A training run, built: config, mesh, loader, state, checkpoints, metrics, the step.

`build_run` does everything that happens once (after the preflight checks in
`loop.train`): the mesh and sharding rules, this process's loader over its rows of the
global batch, the train state (restored into its shardings or born sharded), the
metrics log, and what every checkpoint's meta records. `Run.step` runs one step and
returns its metrics on the host; `loop.run_loop` decides what to do with them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polymix.trainer.config import TrainConfig
from polymix.trainer.profiling import ProfileWindow


def warn_once(message: str) -> None:
    """A warning every process would give about the same files, said by the first."""
    import jax

    if jax.process_index() == 0:
        print(f"polymix train: {message}", file=sys.stderr)


class _Silent:
    """The metrics log of a process other than the first: they all train, one writes."""

    def write(self, record: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Run:
    cfg: TrainConfig
    model_cfg: Any
    seq_len: int
    rules: Any
    loader: Any
    ckpts: Any
    state: Any
    log: Any
    meta: dict[str, Any]
    optimizer: Any
    shardings: Any
    flops_per_token: dict[str, float]  # "model" (MFU) and "hardware" (HFU)
    peak_total: float
    profile: ProfileWindow
    start: int = 0
    resumed_from: int | None = None  # the step restored (an older one if the newest was damaged)
    evaluator: Any = None  # `evaluation.Evaluator`, None when nothing is held out
    _compiled: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> bool:
        import jax

        return jax.process_index() == 0

    def _compile(self, batch: dict[str, np.ndarray]) -> None:
        import jax
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        from polymix.trainer.optimizer import schedule
        from polymix.trainer.step import batch_shardings, make_step

        mesh = self.rules.mesh
        rows = self.cfg.global_batch_size
        shapes = {k: jax.ShapeDtypeStruct((rows, *v.shape[1:]), v.dtype) for k, v in batch.items()}
        b_shard = batch_shardings(self.rules, shapes)
        stop_shard = NamedSharding(mesh, P(tuple(mesh.axis_names)))
        self._compiled["batch"] = b_shard
        self._compiled["step"] = make_step(
            self.model_cfg,
            self.rules,
            self.optimizer,
            schedule(self.cfg),
            self.shardings,
            b_shard,
            grad_accum=self.cfg.grad_accum,
            stop_sharding=stop_shard,
        )

    def step(self, number: int, batch: dict[str, np.ndarray], stop_requested: bool) -> dict:
        """Step `number` (1-based) on this process's rows; host-side metrics of the step."""
        import time

        import jax

        from polymix.trainer.distributed import barrier, stop_flags
        from polymix.trainer.step import to_global

        if not self._compiled:
            self._compile(batch)
        global_batch = to_global(batch, self._compiled["batch"], self.cfg.global_batch_size)
        flags = stop_flags(self.rules.mesh, stop_requested)
        if "ready" not in self._compiled:  # compile here, then meet: see `barrier`
            self._compiled["step"] = (
                self._compiled["step"].lower(self.state, global_batch, flags).compile()
            )
            barrier("compiled")
            self._compiled["ready"] = True
        with self.profile.step(number):
            began = time.perf_counter()
            self.state, metrics = self._compiled["step"](self.state, global_batch, flags)
            record = _scalars(jax.device_get(metrics))
            elapsed = time.perf_counter() - began
        positions = self.cfg.global_batch_size * self.seq_len
        record.update(
            step=number,
            step_time_s=elapsed,
            tokens_per_s=positions / elapsed,
            mfu=positions * self.flops_per_token["model"] / elapsed / self.peak_total,
            hfu=positions * self.flops_per_token["hardware"] / elapsed / self.peak_total,
        )
        return record

    def evaluate(self) -> dict[str, float]:
        """Held-out losses of the current params (`trainer.evaluation`); {} without a set."""
        return self.evaluator.evaluate(self.state["params"]) if self.evaluator else {}

    def save(self, step: int) -> None:
        self.ckpts.save(step, self.state, self.loader, {**self.meta, "step": step})

    def close(self) -> None:
        self.profile.close()
        self.log.close()
        self.loader.close()


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        arr = np.asarray(value)
        if arr.ndim == 0:
            out[key] = bool(arr) if arr.dtype == bool else float(arr)
    return out


def _loader(cfg: TrainConfig, model_cfg: Any, seq_len: int, manifest: Path, rules: Any) -> Any:
    """This process's loader: it reads the block of global rows its devices hold."""
    from polymix.trainer.distributed import data_shard

    rows = (cfg.global_batch_size, seq_len)
    index, count = data_shard(rules.sharding(("batch", "act_seq"), rows), rows)
    return loader_for(cfg, model_cfg, seq_len, manifest, index, count)


def loader_for(
    cfg: TrainConfig, model_cfg: Any, seq_len: int, manifest: Path, index: int, count: int
) -> Any:
    """The loader of block `index` of `count` of each global batch's rows."""
    from polymix.trainer.data import make_loader

    return make_loader(
        manifest,
        seq_len=seq_len,
        global_batch_size=cfg.global_batch_size,
        seed=cfg.seed,
        process_index=index,
        process_count=count,
        worker_count=cfg.loader_workers,
        read_threads=cfg.loader_threads,
        patch_dim=model_cfg.patch_dim,
        n_mels=model_cfg.n_mels,
        audio_stack=model_cfg.frame_stack,
        verify_checksums=cfg.verify == "lazy",  # verify=full hashed every shard already
        mixture=cfg.mixture_weights(),
    )


def _state(
    cfg: TrainConfig,
    model_cfg: Any,
    rules: Any,
    ckpts: Any,
    latest: int | None,
    loader,
    fingerprint,
):
    """(optimizer, state shardings, state, step restored): from `latest` or the newest
    intact step before it, else born sharded."""
    import jax

    from polymix.model.params import shardings_of
    from polymix.model.transformer import init_params, param_info
    from polymix.trainer.checkpoint import abstract_like
    from polymix.trainer.optimizer import decay_mask, make_optimizer
    from polymix.trainer.resume import check_resume
    from polymix.trainer.step import init_state, state_shardings

    info = param_info(model_cfg)
    optimizer = make_optimizer(cfg, decay_mask(info, cfg))
    abstract_params = jax.eval_shape(lambda k: init_params(model_cfg, k), jax.random.key(cfg.seed))
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), abstract_params)
    shardings = state_shardings(abstract_state, shardings_of(info, rules), rules.mesh)
    if latest is not None:
        state, latest = ckpts.restore_newest(
            latest,
            abstract_like(abstract_state, shardings),
            loader,
            lambda meta: check_resume(meta, cfg, fingerprint),
            warn_once,
        )
    else:
        params = init_params(model_cfg, jax.random.key(cfg.seed), rules)
        state = jax.jit(lambda p: init_state(p, optimizer), out_shardings=shardings)(params)
    return optimizer, shardings, state, latest


def build_run(
    cfg: TrainConfig,
    model_cfg: Any,
    seq_len: int,
    manifest: Path,
    ckpts: Any,
    latest: int | None,
    fingerprint: str,
    mesh_shape: tuple[int, ...],
) -> Run:
    import jax

    from polymix.model.attention import describe_attention
    from polymix.model.counting import flops_per_token, hardware_flops_per_token
    from polymix.model.sharding import ShardingRules, make_mesh
    from polymix.trainer.chips import device_peak_flops
    from polymix.trainer.evaluation import build_evaluator
    from polymix.trainer.metrics import MetricsLog

    rules = ShardingRules(make_mesh(mesh_shape))
    loader = _loader(cfg, model_cfg, seq_len, manifest, rules)
    optimizer, shardings, state, latest = _state(
        cfg, model_cfg, rules, ckpts, latest, loader, fingerprint
    )
    start = int(jax.device_get(state["step"]))
    primary = jax.process_index() == 0
    log = MetricsLog(
        ckpts.directory, start_step=start, total_steps=cfg.steps, progress=cfg.progress
    ) if primary else _Silent()  # fmt: skip
    peak, peak_source = device_peak_flops(cfg.peak_tflops)
    attention = describe_attention(model_cfg, rules, seq_len)
    meta = {
        "config": cfg.to_dict(),
        "manifest_sha256": fingerprint,
        "peak_source": peak_source,
        "attention": attention,
        "processes": jax.process_count(),
    }
    flops = {
        "model": flops_per_token(model_cfg, seq_len)["train"],
        "hardware": hardware_flops_per_token(model_cfg, seq_len)["train"],
    }
    profile = ProfileWindow(cfg.profile_window(), Path(ckpts.directory) / "tensorboard")
    evaluator = build_evaluator(
        cfg, model_cfg, loader.dataset.manifest, loader, rules, shardings["params"], log.message
    )
    return Run(
        cfg, model_cfg, seq_len, rules, loader, ckpts, state, log, meta, optimizer, shardings,
        flops, peak * rules.mesh.size, profile, start, latest, evaluator,
    )  # fmt: skip
