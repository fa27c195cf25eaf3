"""`polymix plan` arithmetic: will this model fit these chips, on which mesh, and how long.

Everything is derived from shapes (no arrays are allocated) and the same sharding
table the trainer uses (`model.sharding.ShardingRules`), so a parameter the trainer
would leave replicated is counted as replicated here too.

Per chip, for a mesh data x fsdp x model x expert:

- parameters, gradients: each leaf's bytes divided by the mesh axes that split it;
- optimizer: Adam's two moments, each the size of the params (optax keeps them in
  the parameter dtype);
- activations: what the backward pass keeps, per token and layer (below), times the
  tokens of one microbatch on the chip (gradient accumulation splits the step); with rematerialization only each scanned unit's input is kept,
  plus one unit's full set while it is recomputed. Logits are added in both cases.

The activation count is an estimate: the saved tensors of our layers, not XLA's
actual buffer assignment (which fuses some and keeps temporaries). Treat it as +-30%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from polymix.trainer.chips import Chip

REFERENCE_DAYS = 2.5 * 365.25 / 12  # "about 2.5 months"
USABLE_HBM = 0.85  # XLA needs the rest for temporaries, collectives and fragmentation
MODEL_AXIS_SIZES = (1, 2, 4, 8, 16)
MESH_NAMES = ("data", "fsdp", "model", "expert")


@dataclass(frozen=True)
class Mesh4:
    data: int
    fsdp: int
    model: int
    expert: int

    @property
    def size(self) -> int:
        return self.data * self.fsdp * self.model * self.expert

    @property
    def batch_ways(self) -> int:
        """Ways the batch's rows are split (the `batch` logical axis)."""
        return self.data * self.fsdp * self.expert

    def as_dict(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in MESH_NAMES}


@dataclass
class Memory:
    """Bytes per chip."""

    params: float
    optimizer: float
    grads: float
    activations: float
    activations_remat: float
    logits: float

    def total(self, remat: bool) -> float:
        acts = self.activations_remat if remat else self.activations
        return self.params + self.optimizer + self.grads + acts


@dataclass
class Plan:
    model: str
    chips: int
    chip: Chip
    tokens: float
    seq_len: int
    global_batch: int
    mfu: float
    mesh: Mesh4
    remat: bool
    microbatches: int  # gradient accumulation (the trainer's `grad_accum`)
    memory: Memory
    fits: bool
    train_flops_per_token: float
    tokens_per_step: int
    step_time_s: float
    days: float
    mfu_for_reference_days: float
    rejected: list[str] = field(default_factory=list)

    @property
    def usable_bytes(self) -> float:
        return self.chip.hbm_gb * 1e9 * USABLE_HBM


def _bytes(dtype: str) -> int:
    return {"float32": 4, "bfloat16": 2, "float16": 2}[dtype]


def sharded_param_elements(cfg: Any, mesh: Mesh4) -> float:
    """Parameter elements on one chip under the trainer's sharding table."""
    import jax

    from polymix.model.params import is_info
    from polymix.model.sharding import ShardingRules
    from polymix.model.transformer import param_info

    rules = ShardingRules(mesh=SimpleNamespace(shape=mesh.as_dict()))  # type: ignore[arg-type]
    total = 0.0
    for info in jax.tree.leaves(param_info(cfg), is_leaf=is_info):
        spec = rules.spec(info.axes, info.shape)
        ways = 1
        for entry in spec:
            for axis in (entry,) if isinstance(entry, str) else entry or ():
                ways *= mesh.as_dict()[axis]
        total += math.prod(info.shape) / ways
    return total


def _split(n: int, ways: int) -> float:
    """A dimension the model axis splits only when it divides (as the sharding rules do)."""
    return n / ways if n % ways == 0 else n


def layer_activation_elements(cfg: Any, kind: str, seq_len: int, model_ways: int) -> float:
    """Elements one token keeps for the backward pass of one layer (activation dtype)."""
    d, m = cfg.d_model, model_ways
    heads = _split(cfg.n_heads, m)
    kv = _split(cfg.n_kv_heads, m)
    # attention: residual in, normed, q, k, v, context; softmax state per head
    scores = heads * seq_len if cfg.attention == "direct" else heads
    attn = 2 * d + heads * cfg.head_dim * 2 + 2 * kv * cfg.head_dim + scores
    if kind == "dense":
        ffn = 2 * d + 3 * _split(cfg.d_ff, m)
    else:
        slots = cfg.top_k * cfg.capacity_factor_train
        # residual in, normed, router logits (f32 = 2 elements), dispatched tokens,
        # gate / up / hidden per slot, expert outputs, the k picked outputs
        ffn = 2 * d + 2 * cfg.n_experts + slots * (2 * d + 3 * _split(cfg.d_expert, m))
        ffn += cfg.top_k * d
    return attn + ffn


def activation_bytes(
    cfg: Any, mesh: Mesh4, seq_len: int, global_batch: int, microbatches: int = 1
) -> tuple[float, float, float]:
    """(without remat, with remat, logits) bytes per chip for one microbatch."""
    act = _bytes(cfg.dtype)
    tokens = global_batch * seq_len / mesh.batch_ways / microbatches
    per_unit = sum(
        layer_activation_elements(cfg, kind, seq_len, mesh.model) for kind in cfg.layer_kinds
    )
    full = tokens * per_unit * cfg.n_units * act
    remat = tokens * (cfg.n_units * cfg.d_model + per_unit) * act
    # logits in the activation dtype, their float32 copy and float32 log-softmax
    logits = tokens * _split(cfg.vocab_size, mesh.model) * (act + 4 + 4)
    return full + logits, remat + logits, logits


def memory(cfg: Any, mesh: Mesh4, seq_len: int, global_batch: int, microbatches: int = 1) -> Memory:
    elements = sharded_param_elements(cfg, mesh)
    p = _bytes(cfg.param_dtype)
    full, remat, logits = activation_bytes(cfg, mesh, seq_len, global_batch, microbatches)
    return Memory(
        params=elements * p,
        optimizer=2 * elements * p,
        grads=elements * p,
        activations=full,
        activations_remat=remat,
        logits=logits,
    )


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def _powers_of_two_dividing(n: int) -> list[int]:
    return [2**i for i in range(int(math.log2(n)) + 1) if n % 2**i == 0]


def candidate_meshes(cfg: Any, chips: int, global_batch: int) -> list[Mesh4]:
    """Meshes in order of preference (first that fits wins).

    Experts are spread as widely as their count allows (expert parallelism shards
    most of an MoE's weights for one all-to-all per layer); then the smallest model
    axis (tensor parallelism talks every layer), then the smallest fsdp.
    """
    experts = [e for e in _powers_of_two_dividing(chips) if cfg.n_experts % e == 0]
    expert = max(experts) if cfg.n_experts else 1
    out = []
    for model in MODEL_AXIS_SIZES:
        if chips % (model * expert) or cfg.n_heads % model:
            continue
        rest = chips // (model * expert)
        for fsdp in _powers_of_two_dividing(rest):
            mesh = Mesh4(rest // fsdp, fsdp, model, expert)
            if global_batch % mesh.batch_ways == 0:
                out.append(mesh)
    return out


def make_plan(
    cfg: Any,
    *,
    chips: int,
    chip: Chip,
    tokens: float,
    mfu: float,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mesh: Mesh4 | None = None,
) -> Plan:
    """Propose (or evaluate the given) mesh and time the run."""
    from polymix.model.counting import flops_per_token

    seq_len = seq_len or cfg.max_seq_len
    if global_batch is None:
        global_batch = max(1, (1 << 24) // seq_len)  # ~16M tokens per step
    if mesh is not None and mesh.size != chips:
        raise ValueError(f"mesh {mesh.as_dict()} has {mesh.size} chips, not {chips}")
    candidates = [mesh] if mesh is not None else candidate_meshes(cfg, chips, global_batch)
    if not candidates:
        raise ValueError(
            f"no mesh of {chips} chips splits a batch of {global_batch} sequences; "
            "change --global-batch or --chips"
        )
    usable = chip.hbm_gb * 1e9 * USABLE_HBM
    chosen, rejected = None, []
    # Preference: a small model axis (tensor parallelism talks in every layer), then no
    # remat (it costs a third more compute), then little fsdp, then few microbatches.
    options = [
        (cand, remat, k)
        for model in sorted({c.model for c in candidates})
        for remat in (False, True)
        for cand in candidates
        if cand.model == model
        for k in _divisors(global_batch // cand.batch_ways)
    ]
    for cand, remat, k in options:
        mem = memory(cfg, cand, seq_len, global_batch, k)
        if mem.total(remat) <= usable:
            chosen = (cand, remat, k, mem)
            break
        if k == 1:
            rejected.append(f"{cand.as_dict()} remat={remat}: {mem.total(remat) / 1e9:.1f} GB")
    fits = chosen is not None
    if chosen is None:  # report the most sharded option, so the shortfall is visible
        cand = max(candidates, key=lambda c: (c.fsdp * c.model * c.expert, c.model))
        k = global_batch // cand.batch_ways
        chosen = (cand, True, k, memory(cfg, cand, seq_len, global_batch, k))
    best, remat, microbatches, mem = chosen
    flops = flops_per_token(cfg, seq_len)["train"]
    tokens_per_step = global_batch * seq_len
    machine = chips * chip.bf16_tflops * 1e12
    step_time = tokens_per_step * flops / (machine * mfu)
    seconds = tokens * flops / (machine * mfu)
    return Plan(
        model=cfg.name,
        chips=chips,
        chip=chip,
        tokens=tokens,
        seq_len=seq_len,
        global_batch=global_batch,
        mfu=mfu,
        mesh=best,
        remat=remat,
        microbatches=microbatches,
        memory=mem,
        fits=fits,
        train_flops_per_token=flops,
        tokens_per_step=tokens_per_step,
        step_time_s=step_time,
        days=seconds / 86400,
        mfu_for_reference_days=tokens * flops / (machine * REFERENCE_DAYS * 86400),
        rejected=rejected,
    )


def render(plan: Plan) -> str:
    """The plan as the terminal shows it."""
    gb = 1e9
    mem = plan.memory
    m = plan.mesh
    lines = [
        f"model {plan.model} on {plan.chips} x {plan.chip.name} "
        f"({plan.chip.hbm_gb:g} GB HBM, {plan.chip.bf16_tflops:g} bf16 TFLOP/s per chip)",
        f"batch {plan.global_batch} x {plan.seq_len} = {plan.tokens_per_step:,} tokens per step; "
        f"train FLOPs/token {plan.train_flops_per_token:.3e}",
        "",
        f"proposed mesh  data {m.data} x fsdp {m.fsdp} x model {m.model} x expert {m.expert}"
        f"  (remat {'on: model.remat=true' if plan.remat else 'off: model.remat=false'})",
        f"{plan.global_batch // m.batch_ways} sequences per chip per step in {plan.microbatches} "
        f"microbatch(es) (gradient accumulation: grad_accum={plan.microbatches})",
        "",
        "per-chip memory (GB)        no remat     remat   (activations per microbatch)",
        f"  parameters              {mem.params / gb:9.2f} {mem.params / gb:9.2f}",
        f"  optimizer (Adam m, v)   {mem.optimizer / gb:9.2f} {mem.optimizer / gb:9.2f}",
        f"  gradients               {mem.grads / gb:9.2f} {mem.grads / gb:9.2f}",
        f"  activations             {mem.activations / gb:9.2f} {mem.activations_remat / gb:9.2f}"
        f"   (logits {mem.logits / gb:.2f})",
        f"  total                   {mem.total(False) / gb:9.2f} {mem.total(True) / gb:9.2f}"
        f"   usable {plan.usable_bytes / gb:.1f} of {plan.chip.hbm_gb:g}",
        "",
    ]
    if not plan.fits:
        lines.append(
            "DOES NOT FIT: no mesh of these chips holds this model and batch; shown is the "
            "most sharded one. Use more chips, a smaller --global-batch, or a bigger chip."
        )
    lines += [
        f"step time at {plan.mfu:.0%} MFU: {plan.step_time_s:.2f} s",
        f"{plan.tokens:.3g} tokens: {plan.tokens / plan.tokens_per_step:,.0f} steps, "
        f"{plan.days:.1f} days ({plan.days / REFERENCE_DAYS:.2f}x the reference's 2.5 months)",
        f"MFU needed to finish in 2.5 months: {plan.mfu_for_reference_days:.1%}",
    ]
    return "\n".join(lines)


def plan_dict(plan: Plan) -> dict[str, Any]:
    mem = plan.memory
    return {
        "model": plan.model,
        "chips": plan.chips,
        "chip": plan.chip.__dict__,
        "tokens": plan.tokens,
        "seq_len": plan.seq_len,
        "global_batch": plan.global_batch,
        "mesh": plan.mesh.as_dict(),
        "remat": plan.remat,
        "microbatches": plan.microbatches,
        "fits": plan.fits,
        "memory_bytes": {**mem.__dict__, "total": mem.total(plan.remat)},
        "train_flops_per_token": plan.train_flops_per_token,
        "tokens_per_step": plan.tokens_per_step,
        "mfu": plan.mfu,
        "step_time_s": plan.step_time_s,
        "days": plan.days,
        "reference_days": REFERENCE_DAYS,
        "mfu_for_reference_days": plan.mfu_for_reference_days,
    }
