"""One jitted training step over sharded state, with non-finite steps skipped and counted.

The state is a plain dict pytree (params, opt_state, step, skipped, bad_streak), so
orbax saves it as one PyTree and a restore lands every leaf in its own sharding.
A step whose loss or gradient norm is not finite keeps the old params and optimizer
state (`jnp.where`, so no host round trip decides it) and bumps the counters; the
loop stops the run when `bad_streak` reaches its limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from polymix.model.balance import update_routing_state
from polymix.model.batch import FIELDS
from polymix.model.config import ModelConfig
from polymix.model.sharding import ShardingRules
from polymix.model.transformer import loss_fn

State = dict[str, Any]
Batch = dict[str, Any]
StepFn = Callable[[State, Batch], tuple[State, dict[str, jax.Array]]]


_LOGICAL_DIMS = {"B": "batch", "L": "act_seq"}


def batch_shardings(rules: ShardingRules, batch: Batch) -> dict[str, NamedSharding]:
    """Rows over the batch mesh axes, positions over `context`; media arrays whole per row."""
    out = {}
    for name, value in batch.items():
        shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        dims = FIELDS[name][1] if name in FIELDS else ("B",)
        logical = tuple(_LOGICAL_DIMS.get(d) for d in dims)
        logical += (None,) * (len(shape) - len(logical))
        out[name] = rules.sharding(logical[: len(shape)], shape)
    return out


def to_global(
    batch: Batch, shardings: dict[str, NamedSharding], global_rows: int | None = None
) -> dict[str, jax.Array]:
    """This process's rows -> global arrays of `global_rows` rows (default: one process).

    Only the row count is given: the other dimensions are whole on every process, so a
    device whose slice of them lives on this host (a context axis spanning hosts) finds
    it in the local rows.
    """
    out = {}
    for name in FIELDS:
        if name in batch:
            local = np.asarray(batch[name])
            shape = (global_rows or local.shape[0], *local.shape[1:])
            out[name] = jax.make_array_from_process_local_data(shardings[name], local, shape)
    return out


def _is_params_like(treedef: Any) -> Callable[[Any], bool]:
    """True for a subtree shaped like the params (Adam's mu and nu)."""
    return lambda node: jax.tree.structure(node) == treedef


def state_shardings(abstract_state: State, param_shardings: Any, mesh: jax.sharding.Mesh) -> State:
    """Optimizer moments mirror the params' shardings; counters are replicated."""
    treedef = jax.tree.structure(param_shardings)
    replicated = NamedSharding(mesh, P())

    def shard(node: Any) -> Any:
        if _is_params_like(treedef)(node) and jax.tree.leaves(node):
            return param_shardings
        return jax.tree.map(lambda _: replicated, node)

    opt = jax.tree.map(shard, abstract_state["opt_state"], is_leaf=_is_params_like(treedef))
    return {
        "params": param_shardings,
        "opt_state": opt,
        "step": replicated,
        "skipped": replicated,
        "bad_streak": replicated,
    }


def init_state(params: Any, optimizer: optax.GradientTransformation) -> State:
    zero = jnp.zeros((), jnp.int32)
    return {
        "params": params,
        "opt_state": optimizer.init(params),
        "step": zero,
        "skipped": zero,
        "bad_streak": zero,
    }


def _load_metrics(load: jax.Array) -> dict[str, jax.Array]:
    """Expert load [n_moe_layers, E] (shares summing to 1) -> two balance numbers.

    `expert_load_max` is the busiest expert's share times E (1.0 = perfect balance,
    E = everything on one expert), worst layer; `expert_load_cv` the mean coefficient
    of variation across experts.
    """
    n = load.shape[-1]
    cv = jnp.std(load, axis=-1) / jnp.maximum(jnp.mean(load, axis=-1), 1e-9)
    return {"expert_load_max": jnp.max(load) * n, "expert_load_cv": jnp.mean(cv)}


def _split_rows(x: jax.Array, k: int, rules: ShardingRules) -> jax.Array:
    """[B, ...] -> [k, B/k, ...], microbatch i = rows i, i+k, ...: every device keeps its rows."""
    parts = x.reshape(x.shape[0] // k, k, *x.shape[1:]).swapaxes(0, 1)
    logical = (None, "batch") + (None,) * (x.ndim - 1)
    if rules.mesh is None:
        return parts
    return jax.lax.with_sharding_constraint(parts, rules.sharding(logical, parts.shape))


def loss_and_grads(
    params: Any,
    batch: Batch,
    model_cfg: ModelConfig,
    rules: ShardingRules,
    *,
    grad_accum: int,
) -> tuple[jax.Array, dict[str, jax.Array], Any]:
    """Loss, metrics and gradients of the whole batch, optionally in microbatches.

    With microbatches each text cross-entropy is weighted by its share of the batch's
    loss tokens and the MoE losses by 1/k, so the gradient is the full batch's, except
    that the balance loss (a product of means) is taken per microbatch.
    """

    def objective(p: Any, b: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
        return loss_fn(p, b, model_cfg, rules, train=True)

    if grad_accum == 1:
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params, batch)
        return loss, aux, grads

    total = jnp.maximum(batch["loss_mask"].sum().astype(jnp.float32), 1.0)
    micro = {name: _split_rows(value, grad_accum, rules) for name, value in batch.items()}

    def weighted(p: Any, b: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
        loss, aux = objective(p, b)
        ce = aux["ce_loss"]
        return ce * aux["loss_tokens"] / total + (loss - ce) / grad_accum, aux

    def body(acc: Any, b: Batch) -> tuple[Any, dict[str, jax.Array]]:
        (_, aux), grads = jax.value_and_grad(weighted, has_aux=True)(params, b)
        return jax.tree.map(jnp.add, acc, grads), aux

    zeros = jax.tree.map(jnp.zeros_like, params)
    grads, per = jax.lax.scan(body, zeros, micro)
    aux = {
        "ce_loss": (per["ce_loss"] * per["loss_tokens"]).sum() / total,
        "loss_tokens": per["loss_tokens"].sum(),
    }
    for name in ("aux_loss", "z_loss", "expert_load", "dropped_fraction", "router_input_mean"):
        if name in per:
            aux[name] = jnp.mean(per[name], axis=0)
    loss = aux["ce_loss"] + aux.get("aux_loss", 0.0) + aux.get("z_loss", 0.0)
    return loss, aux, grads


def _train_step(
    model_cfg: ModelConfig,
    rules: ShardingRules,
    optimizer: optax.GradientTransformation,
    lr_fn: optax.Schedule,
    grad_accum: int,
) -> StepFn:
    """The step before jit: the update, kept only when loss and gradient are finite."""

    def step(state: State, batch: Batch) -> tuple[State, dict[str, jax.Array]]:
        params = state["params"]
        loss, aux, grads = loss_and_grads(params, batch, model_cfg, rules, grad_accum=grad_accum)
        grad_norm = optax.global_norm(grads)
        ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        updates, new_opt = optimizer.update(grads, state["opt_state"], params)
        # The routing state (balancing bias, router input centre) is moved from this
        # step's routing, not by the optimizer (`model.balance`).
        new_params = update_routing_state(
            optax.apply_updates(params, updates), params, aux, model_cfg
        )

        def pick(new: Any, old: Any) -> Any:
            return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)

        bad = (~ok).astype(jnp.int32)
        new_state = {
            "params": pick(new_params, params),
            "opt_state": pick(new_opt, state["opt_state"]),
            "step": state["step"] + 1,
            "skipped": state["skipped"] + bad,
            "bad_streak": (state["bad_streak"] + 1) * bad,
        }
        # The schedule advances with applied updates only (optax's own count).
        lr = lr_fn(state["step"] - state["skipped"])
        return new_state, _step_metrics(loss, aux, grad_norm, ok, lr, new_state)

    return step


def _step_metrics(
    loss: jax.Array,
    aux: dict[str, jax.Array],
    grad_norm: jax.Array,
    ok: jax.Array,
    lr: jax.Array,
    new_state: State,
) -> dict[str, jax.Array]:
    """What a step reports: losses, the schedule, the skip counters and, for MoE, routing."""
    metrics = {
        "loss": loss,
        "ce_loss": aux["ce_loss"],
        "loss_tokens": aux["loss_tokens"],
        "grad_norm": grad_norm,
        "lr": lr,
        "finite": ok,
        "skipped": new_state["skipped"],
        "bad_streak": new_state["bad_streak"],
    }
    if "aux_loss" in aux:
        metrics["aux_loss"] = aux["aux_loss"]
        metrics["z_loss"] = aux["z_loss"]
        metrics["dropped_fraction"] = jnp.mean(aux["dropped_fraction"])
        metrics.update(_load_metrics(aux["expert_load"]))
    return metrics


def make_step(
    model_cfg: ModelConfig,
    rules: ShardingRules,
    optimizer: optax.GradientTransformation,
    lr_fn: optax.Schedule,
    shardings: State,
    batch_sharding: dict[str, NamedSharding],
    *,
    grad_accum: int = 1,
    stop_sharding: NamedSharding | None = None,
) -> StepFn:
    """The jitted step; the old state is donated, so it must not be used afterwards.

    With `stop_sharding` the step takes a third argument, every process's "stop
    requested" flag ([devices] ints, `trainer.distributed.stop_flags`), and reports their
    maximum as `stop`: the all-reduce that makes every host stop at the same step rides
    along with the step's own collectives instead of adding a round trip.
    """
    step = _train_step(model_cfg, rules, optimizer, lr_fn, grad_accum)
    replicated = NamedSharding(next(iter(jax.tree.leaves(shardings))).mesh, P())
    if stop_sharding is None:
        return jax.jit(
            step,
            in_shardings=(shardings, batch_sharding),
            out_shardings=(shardings, replicated),
            donate_argnums=(0,),
        )

    def step_with_stop(
        state: State, batch: Batch, stop: jax.Array
    ) -> tuple[State, dict[str, jax.Array]]:
        new_state, metrics = step(state, batch)
        return new_state, {**metrics, "stop": jnp.max(stop) > 0}

    return jax.jit(
        step_with_stop,
        in_shardings=(shardings, batch_sharding, stop_sharding),
        out_shardings=(shardings, replicated),
        donate_argnums=(0,),
    )
