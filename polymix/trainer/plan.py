"""`polymix plan` arithmetic: will this model fit these chips, on which mesh, and how long.

Everything is derived from shapes (no arrays are allocated) and the same sharding
table the trainer uses, so a parameter the trainer would leave replicated is counted
as replicated here too. Memory is `plan_memory` (every buffer, calibrated against
XLA's buffer assignment), communication `plan_comms`.

Utilization comes in two numbers. MFU counts the model's FLOPs (PaLM's convention:
6 x active parameters + full-context attention per token); HFU counts what the chips
execute: remat's second forward pass, every capacity slot, and the attention kernels'
skipped future blocks taken out (`model.counting.hardware_flops_per_token`). A plan at
a given MFU implies its HFU; PaLM reached 57.8% HFU (46.2% MFU) on TPU v4, so an HFU
above that is flagged as optimistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from polymix.trainer.chips import Chip
from polymix.trainer.plan_comms import Comms, step_comms
from polymix.trainer.plan_memory import Memory, PlanMesh, memory

REFERENCE_DAYS = 2.5 * 365.25 / 12  # "about 2.5 months"
DEFAULT_HEADROOM = 0.10  # HBM left free after every buffer the plan counts
PALM_V4_HFU = 0.578
MODEL_AXIS_SIZES = (1, 2, 4, 8, 16)
CONTEXT_AXIS_SIZES = (1, 2, 4, 8, 16)


@dataclass
class Plan:
    model: str
    chips: int
    chip: Chip
    tokens: float
    seq_len: int
    global_batch: int
    mfu: float
    headroom: float
    mesh: PlanMesh
    remat: bool
    microbatches: int  # gradient accumulation (the trainer's `grad_accum`)
    memory: Memory
    comms: Comms
    fits: bool
    train_flops_per_token: float  # model FLOPs (MFU)
    hardware_flops_per_token: float  # executed FLOPs (HFU)
    tokens_per_step: int
    rejected: list[str] = field(default_factory=list)

    @property
    def hfu(self) -> float:
        return self.mfu * self.hardware_flops_per_token / self.train_flops_per_token

    @property
    def hbm_bytes(self) -> float:
        return self.chip.hbm_gb * 1e9

    @property
    def free_fraction(self) -> float:
        return 1.0 - self.memory.total() / self.hbm_bytes

    @property
    def step_time_s(self) -> float:
        machine = self.chips * self.chip.bf16_tflops * 1e12
        return self.tokens_per_step * self.train_flops_per_token / (machine * self.mfu)

    @property
    def comm_time_s(self) -> float:
        return self.comms.total() / (self.chip.link_gb_s * 1e9) if self.chip.link_gb_s else 0.0

    @property
    def days(self) -> float:
        return self.tokens / self.tokens_per_step * self.step_time_s / 86400

    @property
    def mfu_for_reference_days(self) -> float:
        machine = self.chips * self.chip.bf16_tflops * 1e12
        return self.tokens * self.train_flops_per_token / (machine * REFERENCE_DAYS * 86400)


def _powers_of_two_dividing(n: int) -> list[int]:
    return [2**i for i in range(int(math.log2(n)) + 1) if n % 2**i == 0]


def candidate_meshes(cfg: Any, chips: int, global_batch: int, seq_len: int) -> list[PlanMesh]:
    """Meshes in order of preference (the first option that fits wins).

    Experts are spread as widely as their count allows (one all-to-all per layer buys
    most of an MoE's weights); then the smallest context axis (it exists for rows too
    long to fit otherwise), the smallest model axis (tensor parallelism talks in every
    layer), the smallest fsdp.
    """
    experts = [e for e in _powers_of_two_dividing(chips) if cfg.n_experts % e == 0]
    expert = max(experts) if cfg.n_experts else 1
    out = []
    for context in CONTEXT_AXIS_SIZES:
        if seq_len % context or chips % context:
            continue
        for model in MODEL_AXIS_SIZES:
            if chips % (model * expert * context) or cfg.n_heads % model:
                continue
            rest = chips // (model * expert * context)
            for fsdp in _powers_of_two_dividing(rest):
                mesh = PlanMesh(rest // fsdp, fsdp, model, expert, context)
                if global_batch % mesh.batch_ways == 0:
                    out.append(mesh)
    return out


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def _search(cfg: Any, candidates: list[PlanMesh], seq_len: int, global_batch: int, usable: float):
    """First (mesh, remat, microbatches, memory) that fits, and the rejected meshes."""
    rejected = []
    for cand in candidates:
        for remat in (False, True):
            trial = cfg.replace(remat=remat)
            for k in _divisors(global_batch // cand.batch_ways):
                mem = memory(trial, cand, seq_len, global_batch, k)
                if mem.total() <= usable:
                    return (cand, remat, k, mem), rejected
                if k == 1:
                    rejected.append(f"{cand.as_dict()} remat={remat}: {mem.total() / 1e9:.1f} GB")
    return None, rejected


def make_plan(
    cfg: Any,
    *,
    chips: int,
    chip: Chip,
    tokens: float,
    mfu: float,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mesh: PlanMesh | None = None,
    headroom: float = DEFAULT_HEADROOM,
) -> Plan:
    """Propose (or evaluate the given) mesh and time the run."""
    from polymix.model.counting import flops_per_token, hardware_flops_per_token

    seq_len = seq_len or cfg.max_seq_len
    if global_batch is None:
        global_batch = max(1, (1 << 24) // seq_len)  # ~16M tokens per step
    if mesh is not None and mesh.size != chips:
        raise ValueError(f"mesh {mesh.as_dict()} has {mesh.size} chips, not {chips}")
    candidates = [mesh] if mesh is not None else candidate_meshes(cfg, chips, global_batch, seq_len)
    if not candidates:
        raise ValueError(
            f"no mesh of {chips} chips splits a batch of {global_batch} sequences; "
            "change --global-batch or --chips"
        )
    usable = chip.hbm_gb * 1e9 * (1.0 - headroom)
    chosen, rejected = _search(cfg, candidates, seq_len, global_batch, usable)
    fits = chosen is not None
    if chosen is None:  # report the most sharded option, so the shortfall is visible
        cand = max(candidates, key=lambda c: (c.fsdp * c.model * c.expert * c.context, c.model))
        k = global_batch // cand.batch_ways
        chosen = (cand, True, k, memory(cfg.replace(remat=True), cand, seq_len, global_batch, k))
    best, remat, microbatches, mem = chosen
    planned = cfg.replace(remat=remat)
    return Plan(
        model=cfg.name,
        chips=chips,
        chip=chip,
        tokens=tokens,
        seq_len=seq_len,
        global_batch=global_batch,
        mfu=mfu,
        headroom=headroom,
        mesh=best,
        remat=remat,
        microbatches=microbatches,
        memory=mem,
        comms=step_comms(planned, best, seq_len, global_batch, microbatches),
        fits=fits,
        train_flops_per_token=flops_per_token(planned, seq_len)["train"],
        hardware_flops_per_token=hardware_flops_per_token(planned, seq_len)["train"],
        tokens_per_step=global_batch * seq_len,
        rejected=rejected,
    )
