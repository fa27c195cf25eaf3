"""Bytes each chip sends per training step, by collective, and the time at link speed.

Per step (all microbatches), for a mesh data x fsdp x context x model x expert and the
ring/all-to-all costs of a collective over n chips ((n - 1) / n of the buffer leaves
each chip; an all-reduce is a reduce-scatter plus an all-gather, twice that):

- MoE all-to-all over `expert`: the dispatched buffer (tokens x top_k x capacity
  factor x d_model) out and back in the forward pass, and again for the gradients;
- FSDP: every unit's weights all-gathered for the forward pass (again under remat)
  and for the backward pass, its gradients reduce-scattered;
- data parallelism: the gradients all-reduced over data (and over fsdp, expert and
  context for weights those axes replicate) once per step;
- tensor parallelism over `model`: two all-reduces of [tokens, d_model] per layer
  forward (after attention and after the feed-forward), two backward;
- context parallelism: keys and values all-gathered over `context` per layer, their
  gradients reduce-scattered.

Time assumes each chip's whole link bandwidth for every collective and nothing
overlapped with compute, so it is an upper bound where XLA overlaps (it does for FSDP
gathers and the gradient reduction) and roughly right for the MoE all-to-all, which
waits on the router.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polymix.trainer.plan_memory import PlanMesh, sharded_param_elements


@dataclass
class Comms:
    """Bytes sent per chip per step."""

    moe_all_to_all: float
    fsdp_gather: float
    fsdp_reduce_scatter: float
    gradient_all_reduce: float
    tensor_all_reduce: float
    context_gather: float

    def total(self) -> float:
        return sum(self.__dict__.values())


def _share(n: int) -> float:
    return (n - 1) / n if n > 1 else 0.0


def step_comms(cfg: Any, mesh: PlanMesh, seq_len: int, global_batch: int, microbatches: int):
    act = 2 if cfg.dtype in ("bfloat16", "float16") else 4
    grad = 4 if cfg.param_dtype == "float32" else 2
    tokens = global_batch * seq_len / (mesh.batch_ways * mesh.context)  # per chip per step
    n_moe = cfg.layer_kinds.count("moe") * cfg.n_units
    passes = 3 if cfg.remat else 2  # forward (again under remat) and backward
    slots = 1.0 if cfg.dropless else cfg.capacity_factor_train
    moe = 2 * passes * n_moe * tokens * cfg.top_k * slots * cfg.d_model * act
    moe *= _share(mesh.expert)
    elements = sharded_param_elements(cfg, mesh)
    gathered = sharded_param_elements(cfg, mesh, without="fsdp")
    fsdp_gather = passes * microbatches * gathered * act * _share(mesh.fsdp)
    fsdp_scatter = microbatches * gathered * grad * _share(mesh.fsdp)
    replicas = mesh.data * (mesh.context if mesh.context > 1 else 1)
    gradient = 2 * elements * grad * _share(replicas)
    tensor = 2 * passes * cfg.n_layers * tokens * cfg.d_model * act * 2 * _share(mesh.model)
    kv_heads = cfg.n_kv_heads // mesh.model if cfg.n_kv_heads % mesh.model == 0 else cfg.n_kv_heads
    context_kv = tokens * mesh.context * kv_heads * cfg.head_dim * 2 * act
    context = passes * cfg.n_layers * context_kv * _share(mesh.context)
    return Comms(moe, fsdp_gather, fsdp_scatter, gradient, tensor, context)
