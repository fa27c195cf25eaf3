"""Parameter and FLOP accounting from shapes alone (`jax.eval_shape`, no allocation)."""

from __future__ import annotations

import math
from typing import Any

import jax

from polymix.model.balance import ROUTING_STATE
from polymix.model.config import ModelConfig
from polymix.model.transformer import abstract_params


def _size(tree: Any) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def without_routing_state(tree: Any) -> Any:
    """The parameters less the per-layer routing state (`model.balance`): vectors that
    take no gradient and no FLOPs, so they are not counted as the model's size."""
    units = tuple(
        {**u, "moe": {k: v for k, v in u["moe"].items() if k not in ROUTING_STATE}}
        if "moe" in u else u
        for u in tree["units"]
    )  # fmt: skip
    return {**tree, "units": units}


def param_counts(cfg: ModelConfig) -> dict[str, int]:
    """Total and active parameters per token, with the pieces they are made of.

    Active = everything a text token touches: all but the (E - k) experts it was not
    routed to, and without the media embedders (a text token never uses them).
    The token embedding table counts in both (it is stored; a lookup costs no FLOPs).
    """
    tree = without_routing_state(abstract_params(cfg))
    experts = 0
    for kind, unit in zip(cfg.layer_kinds, tree["units"], strict=True):
        if kind == "moe":
            experts += _size({k: v for k, v in unit["moe"].items() if k != "router"})
    embed = tree["embed"]
    media = _size({k: v for k, v in embed.items() if k not in ("tokens", "modality")})
    total = _size(tree)
    unused = experts * (cfg.n_experts - cfg.top_k) // cfg.n_experts if cfg.n_experts else 0
    return {
        "total": total,
        "active": total - unused - media,
        "experts": experts,
        "token_embedding": _size(embed["tokens"]),
        "head": _size(tree["head"]),
        "media_embedders": media,
    }


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> dict[str, float]:
    """Model FLOPs per text token (PaLM appendix B convention).

    Forward: 2 per active matmul weight (the embedding lookup is not a matmul) plus
    attention scores and values, 2 * 2 * L * H * D per layer over the full (not
    causally halved) context. Training is 3x forward: backward is two matmuls per one.
    """
    seq_len = seq_len or cfg.max_seq_len
    counts = param_counts(cfg)
    matmul = counts["active"] - counts["token_embedding"]
    attn = 4 * cfg.n_layers * seq_len * cfg.n_heads * cfg.head_dim
    forward = 2 * matmul + attn
    return {"seq_len": seq_len, "forward": float(forward), "train": float(3 * forward)}


def hardware_flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> dict[str, float]:
    """FLOPs the chips execute per trained token, which MFU's model FLOPs leave out.

    - Experts run at the capacity factor: every capacity slot is computed, filled or
      not (dropless: exactly top_k per token).
    - Attention kernels that skip key blocks past the diagonal (blockwise, splash,
      cuDNN) do about (L + block) / 2 of the L key positions per query; `xla` does all.
    - With remat every layer's forward pass runs again in the backward pass.

    HFU = these FLOPs / peak; MFU = the PaLM-convention FLOPs of `flops_per_token` / peak.
    """
    seq_len = seq_len or cfg.max_seq_len
    counts = param_counts(cfg)
    slots = 1.0 if cfg.dropless else cfg.capacity_factor_train
    routed = counts["experts"] * cfg.top_k / cfg.n_experts if cfg.n_experts else 0.0
    matmul = counts["active"] - counts["token_embedding"] + routed * (slots - 1.0)
    keys = seq_len if cfg.attention == "xla" else min(seq_len, (seq_len + cfg.attention_block) / 2)
    attn = 4 * cfg.n_layers * keys * cfg.n_heads * cfg.head_dim
    forward = 2 * matmul + attn
    layers = forward - 2 * counts["head"]
    train = 3 * forward + (layers if cfg.remat else 0.0)
    return {"seq_len": seq_len, "forward": float(forward), "train": float(train)}
