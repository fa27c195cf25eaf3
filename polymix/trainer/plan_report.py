"""A `Plan` as the terminal shows it, and as JSON."""

from __future__ import annotations

from typing import Any

from polymix.trainer.plan import PALM_V4_HFU, REFERENCE_DAYS, Plan

_MEMORY_ROWS = (
    ("params", "parameters"),
    ("optimizer", "optimizer (Adam m, v)"),
    ("grads", "gradients"),
    ("grad_accumulator", "gradient accumulator"),
    ("weights_in_compute", "weights gathered / cast"),
    ("activations", "activations kept"),
    ("context_kv", "context-gathered K/V"),
    ("logits", "logits chunk + grad"),
    ("backward_working", "backward working set"),
)
_COMMS_ROWS = (
    ("moe_all_to_all", "MoE all-to-all"),
    ("fsdp_gather", "fsdp all-gather"),
    ("fsdp_reduce_scatter", "fsdp reduce-scatter"),
    ("gradient_all_reduce", "gradient all-reduce"),
    ("tensor_all_reduce", "tensor all-reduce"),
    ("context_gather", "context K/V gather"),
)


def _header(plan: Plan) -> list[str]:
    m = plan.mesh
    rows = plan.global_batch // m.batch_ways
    return [
        f"model {plan.model} on {plan.chips} x {plan.chip.name} "
        f"({plan.chip.hbm_gb:g} GB HBM, {plan.chip.bf16_tflops:g} bf16 TFLOP/s per chip)",
        f"batch {plan.global_batch} x {plan.seq_len} = {plan.tokens_per_step:,} tokens per step; "
        f"train FLOPs/token {plan.train_flops_per_token:.3e} (model), "
        f"{plan.hardware_flops_per_token:.3e} (executed)",
        "",
        f"proposed mesh  data {m.data} x fsdp {m.fsdp} x context {m.context} x model {m.model} "
        f"x expert {m.expert}  (mesh={m.data},{m.fsdp},{m.context},{m.model},{m.expert}, "
        f"model.remat={'true' if plan.remat else 'false'})",
        f"{rows} sequences per chip per step in {plan.microbatches} microbatch(es) "
        f"(grad_accum={plan.microbatches})",
        "",
    ]


def _memory_lines(plan: Plan) -> list[str]:
    gb = 1e9
    mem = plan.memory
    lines = ["per-chip memory (GB)"]
    for key, label in _MEMORY_ROWS:
        lines.append(f"  {label:<26}{getattr(mem, key) / gb:9.2f}")
    lines.append(
        f"  {'total':<26}{mem.total() / gb:9.2f}   of {plan.chip.hbm_gb:g}: "
        f"{plan.free_fraction:.0%} free (asked: {plan.headroom:.0%})"
    )
    return [*lines, ""]


def _comms_lines(plan: Plan) -> list[str]:
    gb = 1e9
    lines = ["per-chip communication per step (GB)"]
    for key, label in _COMMS_ROWS:
        lines.append(f"  {label:<26}{getattr(plan.comms, key) / gb:9.2f}")
    if plan.chip.link_gb_s:
        share = plan.comm_time_s / plan.step_time_s
        lines.append(
            f"  {'total':<26}{plan.comms.total() / gb:9.2f}   {plan.comm_time_s:.2f} s at "
            f"{plan.chip.link_gb_s:g} GB/s, {share:.0%} of the step if nothing overlapped"
        )
    return [*lines, ""]


def render(plan: Plan) -> str:
    lines = _header(plan) + _memory_lines(plan) + _comms_lines(plan)
    if not plan.fits:
        lines.append(
            f"DOES NOT FIT with {plan.headroom:.0%} headroom: no mesh of these chips holds this "
            "model and batch; shown is the most sharded one. Use more chips, a smaller "
            "--global-batch, a bigger chip or a smaller --headroom."
        )
    hfu_note = " (above PaLM's 57.8% on v4: optimistic)" if plan.hfu > PALM_V4_HFU else ""
    lines += [
        f"step time at {plan.mfu:.0%} MFU = {plan.hfu:.0%} HFU{hfu_note}: {plan.step_time_s:.2f} s",
        f"{plan.tokens:.3g} tokens: {plan.tokens / plan.tokens_per_step:,.0f} steps, "
        f"{plan.days:.1f} days ({plan.days / REFERENCE_DAYS:.2f}x the reference's 2.5 months)",
        f"MFU needed to finish in 2.5 months: {plan.mfu_for_reference_days:.1%}",
    ]
    return "\n".join(lines)


def plan_dict(plan: Plan) -> dict[str, Any]:
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
        "headroom": plan.headroom,
        "free_fraction": plan.free_fraction,
        "memory_bytes": {**plan.memory.__dict__, "total": plan.memory.total()},
        "comms_bytes": {**plan.comms.__dict__, "total": plan.comms.total()},
        "comm_time_s": plan.comm_time_s,
        "train_flops_per_token": plan.train_flops_per_token,
        "hardware_flops_per_token": plan.hardware_flops_per_token,
        "tokens_per_step": plan.tokens_per_step,
        "mfu": plan.mfu,
        "hfu": plan.hfu,
        "step_time_s": plan.step_time_s,
        "days": plan.days,
        "reference_days": REFERENCE_DAYS,
        "mfu_for_reference_days": plan.mfu_for_reference_days,
    }
