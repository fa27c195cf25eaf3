"""K proxies trained side by side: states stacked on a leading axis, one vmapped step.

A proxy is tiny, so one of them leaves most of an accelerator idle; K of them in one
program fill it. Nothing here is new maths: the step is the trainer's own
(`trainer.step.make_step`, the jitted loss, gradient, clip, AdamW and non-finite skip of
`polymix train`) under `jax.vmap`, and held-out losses are the trainer's own eval step
(`trainer.evaluation.make_eval_step`) vmapped over the params with the batch shared.
Each proxy reads its batches from its own loader, built exactly as its sequential run
builds it (`trainer.run.loader_for`, its seed and mixture), and is scored on the same
fixed held-out batches (`trainer.data.heldout`), summed in the same order as the
trainer's `Evaluator`. So each proxy's losses are those of its sequential run, up to
the reduction order vmap's batched kernels may choose.

Every proxy of a group must share everything but its mixture and seed (model, steps,
schedule, batch): the step is compiled once for the group. One device: the group runs
on the first one; K is how a proxy sweep fills it, not data parallelism.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polymix.ablation.settings import AblationError
from polymix.trainer.config import TrainConfig


@dataclass
class GroupResult:
    """Per proxy: the training loss of every step, and the final evaluation's record."""

    losses: list[list[float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    stopped_by: str | None = None


def check_group(configs: list[TrainConfig]) -> None:
    """Refuse a group whose proxies differ in anything but the mixture and the seed."""
    if not configs:
        raise AblationError("a side-by-side group needs at least one proxy")
    first = configs[0].replace(mixture="", seed=0)
    for cfg in configs[1:]:
        if cfg.replace(mixture="", seed=0) != first:
            raise AblationError(
                "proxies side by side must differ only in mixture and seed; "
                f"{cfg.to_dict()} differs from {configs[0].to_dict()}"
            )


def stack(trees: list[Any]) -> Any:
    """K pytrees of the same structure -> one with a leading axis of K."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _stack_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.stack([b[name] for b in batches]) for name in batches[0]}


@dataclass
class Group:
    """K proxies built: their loaders, the stacked state, the trainer's steps vmapped."""

    configs: list[TrainConfig]
    model_cfg: Any
    rules: Any
    optimizer: Any
    shardings: Any  # one proxy's state shardings (the trainer's `state_shardings`)
    loaders: list[Any]
    state: Any
    evaluator: Any  # `trainer.evaluation.Evaluator`: the fixed held-out batches
    _step: Callable[..., Any] | None = None
    _eval_step: Callable[..., Any] | None = None

    def _compile(self, batch: dict[str, np.ndarray]) -> None:
        """`make_step` for one proxy's batch shapes, vmapped over the leading axis."""
        import jax

        from polymix.trainer.optimizer import schedule
        from polymix.trainer.step import batch_shardings, make_step

        shapes = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in batch.items()}
        cfg = self.configs[0]
        one = make_step(
            self.model_cfg,
            self.rules,
            self.optimizer,
            schedule(cfg),
            self.shardings,
            batch_shardings(self.rules, shapes),
            grad_accum=cfg.grad_accum,
        )
        self._step = jax.jit(jax.vmap(one), donate_argnums=(0,))

    def train_step(self) -> np.ndarray:
        """One step of every proxy on its own next batch; the losses, shape [K]."""
        import jax

        from polymix.trainer.loop import next_batch

        batches = [next_batch(loader) for loader in self.loaders]
        if self._step is None:
            self._compile(batches[0])
        self.state, metrics = self._step(self.state, _stack_batches(batches))
        metrics = jax.device_get(metrics)
        streak = int(np.max(metrics["bad_streak"]))
        if streak >= self.configs[0].max_bad_steps:
            worst = int(np.argmax(metrics["bad_streak"]))
            raise AblationError(
                f"proxy {worst} of the group: {streak} non-finite steps in a row; stopped"
            )
        return np.asarray(metrics["loss"], dtype=np.float64)

    def evaluate(self) -> list[dict[str, float]]:
        """Every proxy's `eval/...` record, summed batch by batch as the trainer's `Evaluator`."""
        import jax

        from polymix.trainer.evaluation import eval_record

        if self._eval_step is None:
            self._eval_step = jax.jit(jax.vmap(self.evaluator.step, in_axes=(0, None)))
        k = len(self.configs)
        sums: list[dict[str, tuple[float, float]]] = [{} for _ in range(k)]
        for name, batches in self.evaluator.batches.items():
            totals, tokens = np.zeros(k), np.zeros(k)
            for batch in batches:
                loss_sum, count = jax.device_get(self._eval_step(self.state["params"], batch))
                totals += np.asarray(loss_sum, dtype=np.float64)
                tokens += np.asarray(count, dtype=np.float64)
            for i in range(k):
                sums[i][name] = (float(totals[i]), float(tokens[i]))
        return [eval_record(s, self.evaluator.modality_of) for s in sums]

    def close(self) -> None:
        for loader in self.loaders:
            loader.close()


def _one_device_rules() -> Any:
    import jax

    from polymix.model.sharding import ShardingRules, make_mesh

    return ShardingRules(make_mesh((1, 1, 1, 1, 1), jax.devices()[:1]))


def _checked(manifest: str | Path, configs: list[TrainConfig]) -> tuple[Any, int]:
    """The trainer's own preflight for every proxy: (the manifest, its sequence length)."""
    from polymix.trainer.evaluation import check_eval, check_mixture
    from polymix.trainer.preflight import check_manifest

    loaded, seq_len = check_manifest(manifest, configs[0].resolved_model(), configs[0])
    for cfg in configs:
        check_mixture(loaded, cfg)
        check_eval(loaded, cfg)
    return loaded, seq_len


def build_group(
    manifest: str | Path, configs: list[TrainConfig], say: Callable[[str], None]
) -> Group:
    """Loaders, fresh states stacked, and the held-out set of `configs`' proxies."""
    import jax

    from polymix.model.params import shardings_of
    from polymix.model.transformer import init_params, param_info
    from polymix.trainer.evaluation import build_evaluator
    from polymix.trainer.loop import use_compilation_cache
    from polymix.trainer.optimizer import decay_mask, make_optimizer
    from polymix.trainer.run import loader_for
    from polymix.trainer.step import init_state, state_shardings

    check_group(configs)
    configs = [cfg.with_schedule_fixed() for cfg in configs]  # as a fresh `train` does
    cfg = configs[0]
    loaded, seq_len = _checked(manifest, configs)
    if cfg.compilation_cache:
        use_compilation_cache(cfg.compilation_cache)
    model_cfg, rules = cfg.resolved_model(), _one_device_rules()
    info = param_info(model_cfg)
    optimizer = make_optimizer(cfg, decay_mask(info, cfg))
    loaders = [loader_for(c, model_cfg, seq_len, manifest, 0, 1) for c in configs]
    states = [
        init_state(init_params(model_cfg, jax.random.key(c.seed), rules), optimizer)
        for c in configs
    ]
    shardings = state_shardings(
        jax.eval_shape(lambda: states[0]), shardings_of(info, rules), rules.mesh
    )
    evaluator = build_evaluator(cfg, model_cfg, loaded, loaders[0], rules, shardings["params"], say)
    if evaluator is None:
        raise AblationError("no source has held-out records: proxies have nothing to be scored on")
    return Group(configs, model_cfg, rules, optimizer, shardings, loaders, stack(states), evaluator)


def train_group(
    manifest: str | Path,
    overrides: list[list[str]],
    say: Callable[[str], None] = print,
    stop: Callable[[], str | None] = lambda: None,
) -> GroupResult:
    """Train the proxies of `overrides` (each a `polymix train` override list) side by side.

    `stop()` is polled after every step; a name it returns (a signal's) ends the group
    without an evaluation: a group is trained whole or not at all.
    """
    from polymix.core.manifest import manifest_location
    from polymix.trainer.config import apply_overrides

    path, _ = manifest_location(manifest)
    configs = [apply_overrides(TrainConfig(), o) for o in overrides]
    group = build_group(path, configs, say)  # a local file or a gs:// URL, as `train` takes
    result = GroupResult(losses=[[] for _ in configs])
    try:
        for _ in range(configs[0].steps):
            for i, loss in enumerate(group.train_step()):
                result.losses[i].append(float(loss))
            result.stopped_by = stop()
            if result.stopped_by:
                return result
        result.evaluations = group.evaluate()
    finally:
        group.close()
    return result
