"""Per-chip memory of a training step, every buffer that exists, from shapes alone.

Static (per chip, after sharding by the trainer's own table):

- parameters, Adam's two moments (optax keeps them in the parameter dtype), the
  gradients (parameter dtype) and, with gradient accumulation, the accumulator they
  are summed into;
- the weights as the matmuls read them, gathered over fsdp and/or cast to the
  activation dtype, which the backward pass needs again: every unit's, or with remat
  the running unit's and the next one's.

Per microbatch:

- the activations the backward pass keeps: JAX's own list of residuals of one scanned
  unit (`jax.ad_checkpoint.saved_residuals`, traced at the chip's local shapes, nothing
  allocated), times the number of units; with remat, each unit's input instead, plus
  one unit's residuals while it is recomputed. Context parallelism adds the keys and
  values each layer gathers over `context`;
- the cross-entropy: one chunk of float32 logits and their gradient (the full
  [tokens, vocab] logits never exist, `model.loss`);
- the backward pass's working set: the gradients of one layer's activations.

The last two are scaled by coefficients measured against XLA's buffer assignment
(`compile().memory_analysis()`) on the small presets (`benchmarks/plan_vs_xla.py`):
XLA fuses the log-softmax into the logits' consumers, keeping about a third of a
chunk's two float32 copies, and one layer's backward needs about one layer's residuals
besides them. JAX's residual list also names elementwise intermediates (SiLU, RMSNorm
in float32) that XLA fuses away; at d_model 64 they dominate and the plan counts
1.2-1.6x what XLA needs, from d_model 128 on it is within 10% (the README's table).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

LOGITS_KEPT = 0.31  # share of a chunk's float32 logits + gradient XLA keeps (measured)
BACKWARD_WORKING_LAYERS = 1.07  # one layer's backward needs this many layers' residuals


@dataclass(frozen=True)
class PlanMesh:
    data: int
    fsdp: int
    model: int
    expert: int
    context: int = 1

    @property
    def size(self) -> int:
        return self.data * self.fsdp * self.context * self.model * self.expert

    @property
    def batch_ways(self) -> int:
        """Ways the batch's rows are split (the `batch` logical axis)."""
        return self.data * self.fsdp * self.expert

    def as_dict(self) -> dict[str, int]:
        names = ("data", "fsdp", "context", "model", "expert")
        return {n: getattr(self, n) for n in names}

    def shape(self) -> tuple[int, int, int, int, int]:
        return (self.data, self.fsdp, self.context, self.model, self.expert)


@dataclass
class Memory:
    """Bytes per chip, one field per buffer."""

    params: float
    optimizer: float
    grads: float
    grad_accumulator: float
    weights_in_compute: float
    activations: float
    context_kv: float
    logits: float
    backward_working: float

    def total(self) -> float:
        return sum(self.__dict__.values())


def _bytes(dtype: str) -> int:
    return {"float32": 4, "bfloat16": 2, "float16": 2}[dtype]


def _rules(mesh: PlanMesh) -> Any:
    from polymix.model.sharding import ShardingRules

    return ShardingRules(mesh=SimpleNamespace(shape=mesh.as_dict()))  # type: ignore[arg-type]


def _ways(spec: Any, mesh: PlanMesh) -> int:
    ways = 1
    for entry in spec:
        for axis in (entry,) if isinstance(entry, str) else entry or ():
            ways *= mesh.as_dict()[axis]
    return ways


def sharded_param_elements(cfg: Any, mesh: PlanMesh, *, without: str = "") -> float:
    """Parameter elements on one chip under the trainer's sharding table.

    `without="fsdp"`: as if fsdp did not split them (what a gathered layer holds).
    """
    import jax

    from polymix.model.params import is_info
    from polymix.model.transformer import param_info

    rules = _rules(mesh)
    total = 0.0
    for info in jax.tree.leaves(param_info(cfg), is_leaf=is_info):
        spec = rules.spec(info.axes, info.shape)
        ways = _ways(spec, mesh)
        if without == "fsdp" and any(
            "fsdp" in ((e,) if isinstance(e, str) else e or ()) for e in spec
        ):
            ways //= mesh.fsdp
        total += math.prod(info.shape) / ways
    return total


def _split(n: int, ways: int) -> int:
    """A dimension `model` splits only when it divides, as the sharding rules do."""
    return n // ways if n % ways == 0 else n


def local_config(cfg: Any, mesh: PlanMesh) -> Any:
    """The layer one chip computes: heads and hidden widths divided over `model`."""
    m = mesh.model
    heads = _split(cfg.n_heads, m)
    # Key/value heads `model` does not divide stay whole; a chip then reads one per query
    # head it holds (`model.attention._local_kv_heads`), at most.
    kv = cfg.n_kv_heads // m if cfg.n_kv_heads % m == 0 else min(cfg.n_kv_heads, heads)
    if heads % kv:
        kv = heads
    return cfg.replace(
        n_heads=heads,
        n_kv_heads=kv,
        d_ff=_split(cfg.d_ff, m),
        d_expert=_split(cfg.d_expert, m),
        vocab_size=_split(cfg.vocab_size, m),
        remat=False,
    )


@functools.lru_cache(maxsize=64)
def unit_residual_bytes(cfg: Any, seq_len: int) -> float:
    """Bytes one row of `seq_len` positions keeps for the backward pass of one unit."""
    import jax
    import jax.numpy as jnp
    from jax._src.ad_checkpoint import saved_residuals

    from polymix.model.batch import empty_batch
    from polymix.model.sharding import NO_SHARDING
    from polymix.model.transformer import _layer, abstract_params

    units = abstract_params(cfg)["units"]
    unit = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), units)
    batch = empty_batch(1, seq_len, patch_dim=cfg.patch_dim, frame_dim=cfg.frame_dim)
    batch["segment_ids"][:] = 1
    x = jax.ShapeDtypeStruct((1, seq_len, cfg.d_model), jnp.dtype(cfg.dtype))

    def run_unit(unit: Any, x: jax.Array) -> jax.Array:
        for kind, params in zip(cfg.layer_kinds, unit, strict=True):
            x, _ = _layer(kind, params, x, batch, cfg, NO_SHARDING, True)
        return x

    weights = {tuple(a.shape) for a in jax.tree.leaves(unit)}
    total = 0.0
    for aval, source in saved_residuals(run_unit, unit, x):
        if ("argument" in source and "unit" in source) or tuple(aval.shape) in weights:
            continue  # a parameter or its cast: counted per chip in `weights_in_compute`
        total += math.prod(aval.shape) * aval.dtype.itemsize
    return total


def unit_weight_elements(cfg: Any, mesh: PlanMesh) -> float:
    """Elements of one scanned unit's weights on a chip once fsdp has gathered them."""
    import jax

    from polymix.model.params import is_info
    from polymix.model.transformer import param_info

    rules = _rules(mesh)
    total = 0.0
    for info in jax.tree.leaves(param_info(cfg)["units"], is_leaf=is_info):
        spec = [e for e in rules.spec(info.axes, info.shape)]
        ways = _ways(spec, mesh)
        if any("fsdp" in ((e,) if isinstance(e, str) else e or ()) for e in spec):
            ways //= mesh.fsdp
        total += math.prod(info.shape[1:]) / ways
    return total


def memory(
    cfg: Any, mesh: PlanMesh, seq_len: int, global_batch: int, microbatches: int = 1
) -> Memory:
    """Bytes per chip of one training step of `global_batch` rows of `seq_len`."""
    elements = sharded_param_elements(cfg, mesh)
    p, act = _bytes(cfg.param_dtype), _bytes(cfg.dtype)
    rows = global_batch / mesh.batch_ways / microbatches
    local_seq = seq_len // mesh.context if seq_len % mesh.context == 0 else seq_len
    local = local_config(cfg, mesh)
    per_unit = rows * unit_residual_bytes(local, local_seq)
    unit_input = rows * local_seq * cfg.d_model * act
    kept_units = 1 if cfg.remat else cfg.n_units
    activations = per_unit + cfg.n_units * unit_input if cfg.remat else cfg.n_units * per_unit
    kv = 0.0
    if mesh.context > 1:
        per_layer = rows * seq_len * local.n_kv_heads * cfg.head_dim * 2 * act
        kv = per_layer * len(cfg.layer_kinds) * kept_units
    chunk = (
        cfg.logits_chunk if cfg.logits_chunk and local_seq % cfg.logits_chunk == 0 else local_seq
    )
    logits = LOGITS_KEPT * 2 * rows * chunk * local.vocab_size * 4
    # Weights as the matmuls read them: cast to the activation dtype and/or gathered over
    # fsdp, kept for the backward pass by every unit (remat: the running one and the next).
    in_compute = 0.0
    if mesh.fsdp > 1 or cfg.dtype != cfg.param_dtype:
        units = 2 if cfg.remat else cfg.n_units
        in_compute = units * unit_weight_elements(cfg, mesh) * act
    return Memory(
        params=elements * p,
        optimizer=2 * elements * p,
        grads=elements * p,
        grad_accumulator=elements * p if microbatches > 1 else 0.0,
        weights_in_compute=in_compute,
        activations=activations,
        context_kv=kv,
        logits=logits,
        backward_working=BACKWARD_WORKING_LAYERS * per_unit / len(cfg.layer_kinds),
    )
