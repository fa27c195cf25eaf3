"""The reference optimizer: clip at global norm 1.0, Adam(0.9, 0.95), warm-up + cosine, AdamW.

Built from optax pieces so each one is the field's implementation:

    clip_by_global_norm -> scale_by_adam -> scale_by_learning_rate(schedule)
                        -> weight decay (masked: not norms, biases or embeddings)

Weight decay comes *after* the learning rate, so it never passes through Adam's
1/sqrt(v) (that is what "decoupled" means in Loshchilov & Hutter). How big a step
it takes is the choice `weight_decay_mode` makes:

- decoupled (default): `p -= weight_decay * (lr_t / peak_lr) * p`. The decay follows
  the schedule's *shape* (zero during warm-up's start, cosine after) but not the peak
  learning rate, so tuning `peak_lr` does not silently change the regularization
  (Loshchilov & Hutter's eta_t multiplier; MosaicML Composer's DecoupledAdamW).
- coupled: `p -= lr_t * weight_decay * p`, exactly `optax.adamw`, which adds
  `weight_decay * p` to Adam's direction and multiplies the sum by `lr_t`.

The two agree when decoupled `weight_decay` = coupled `weight_decay` * `peak_lr`:
the default 2e-5 is optax's customary 0.1 at the reference's peak of 2e-4.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from polymix.trainer.config import TrainConfig

# First logical axis of an embedding table (looked up, not multiplied).
_EMBEDDING_AXES = frozenset({"vocab", "position", "modality"})


def schedule(cfg: TrainConfig) -> optax.Schedule:
    """Linear 0 -> peak over `warmup_steps`, then cosine to peak * floor at `decay_steps`."""
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=cfg.peak_lr,
        warmup_steps=cfg.warmup_steps,
        decay_steps=max(cfg.total_decay_steps, cfg.warmup_steps + 1),
        end_value=cfg.peak_lr * cfg.lr_floor_ratio,
    )


def decay_mask(param_info_tree: Any, cfg: TrainConfig) -> Any:
    """True where weight decay applies, from each parameter's logical axes.

    Norm scales and biases are the parameters of rank 1 (besides the stacked layers
    axis); embeddings are tables whose first axis is looked up (vocab, position,
    modality). The output head is a matmul weight and is decayed.
    """
    from polymix.model.params import is_info

    def decide(info: Any) -> bool:
        axes = [a for a in info.axes if a != "layers"]
        if len(axes) <= 1:
            return cfg.decay_norms_and_biases
        if axes[0] in _EMBEDDING_AXES:
            return cfg.decay_embeddings
        return True

    return jax.tree.map(decide, param_info_tree, is_leaf=is_info)


def make_optimizer(cfg: TrainConfig, mask: Any) -> optax.GradientTransformation:
    """The full chain; `mask` is `decay_mask(...)` (a tree of bools like the params)."""
    lr = schedule(cfg)
    if cfg.weight_decay_mode == "decoupled":

        def decay(count: Any) -> Any:
            return -cfg.weight_decay * lr(count) / cfg.peak_lr
    else:

        def decay(count: Any) -> Any:
            return -cfg.weight_decay * lr(count)

    parts = [
        optax.clip_by_global_norm(cfg.clip_norm),
        optax.scale_by_adam(b1=cfg.b1, b2=cfg.b2, eps=cfg.eps),
        optax.scale_by_learning_rate(lr),
    ]
    if cfg.weight_decay > 0:
        # Added after the (negative) learning-rate scaling, hence the minus sign above.
        parts.append(optax.add_decayed_weights(decay, mask))
    return optax.chain(*parts)


def learning_rate(cfg: TrainConfig, step: Any) -> Any:
    """The schedule's value at `step` (what the update at that step uses)."""
    return schedule(cfg)(step)
