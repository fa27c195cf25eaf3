"""Model configuration: one frozen pydantic model, named presets, `key=value` overrides.

Every size the model needs lives here, so the parameter count, the FLOPs per token
and the sharding of a preset can all be derived without building the model.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import model_validator

from polymix.core.frozen_config import FrozenConfig
from polymix.core.overrides import split_override

ATTENTION_IMPLEMENTATIONS = ("auto", "xla", "cudnn", "splash", "blockwise")


class ModelConfig(FrozenConfig):
    """Decoder-only MoE transformer over text tokens, image patches and audio frames.

    Frozen, so it hashes and compares by value: `jax.jit` takes it as a static argument.
    """

    label = "model field"

    name: str = "custom"
    vocab_size: int = 256
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    head_dim: int = 16
    d_ff: int = 128  # hidden width of the dense (non-MoE) SwiGLU layers
    # Mixture of experts. n_experts == 0 makes every layer dense.
    n_experts: int = 4
    top_k: int = 2
    d_expert: int = 64  # hidden width of each expert's SwiGLU
    dense_every: int = 0  # every n-th layer dense (0: none); n_layers must be a multiple
    capacity_factor_train: float = 1.25
    capacity_factor_eval: float = 2.0
    dropless: bool = False
    aux_loss_coef: float = 0.01
    z_loss_coef: float = 0.001
    # Router logits = (x @ router) * router_logit_scale, the weights initialized with std
    # router_init_std / router_logit_scale (so the initial logits do not depend on the
    # scale). Adam moves every weight by about the learning rate per step whatever its
    # gradient's size, so the logits move by lr * scale * |x|_1 per step: the scale is the
    # router's own learning rate (see `model.moe`).
    router_init_std: float = 0.02
    router_logit_scale: float = 1.0
    # Expert-parallel dropless exchange: `native` is ragged_all_to_all + ragged_dot (TPU,
    # GPU); `emulated` the same exchange over dense all_to_all with a tiled grouped matmul
    # (what XLA:CPU can run); `auto` picks by platform.
    ragged_collectives: Literal["auto", "native", "emulated"] = "auto"
    # Attention. `auto`: cuDNN flash attention on GPU (bf16/fp16), Pallas splash attention
    # on TPU, the blockwise path elsewhere; `xla` is plain XLA with the whole [L, L] score
    # matrix (fine for short rows and tests).
    rope_theta: float = 10_000.0
    rope_scaling: float = 1.0  # linear position interpolation: positions / rope_scaling
    attention: Literal["auto", "xla", "cudnn", "splash", "blockwise"] = "auto"
    attention_block: int = 512  # query/key block of the blockwise and splash paths
    max_seq_len: int = 2048  # used for FLOPs per token, not a hard limit
    # Cross-entropy in chunks of this many positions per row, the head's logits of one
    # chunk at a time (recomputed in the backward pass); 0 materializes all logits.
    logits_chunk: int = 512
    # Media embedders.
    patch_size: int = 16
    image_channels: int = 3
    max_patch_grid: int = 64  # rows/cols of the learned 2-D patch position tables
    n_mels: int = 128  # the pipeline's default log-mel bins (media.audio.n_mels)
    frame_stack: int = 4  # mel frames concatenated into one position
    max_audio_positions: int = 1024  # stacked frames per audio block (1-D position table)
    # Numerics.
    norm_eps: float = 1e-6
    dtype: str = "float32"  # activations / matmul inputs
    param_dtype: str = "float32"
    init_std: float = 0.02
    # The token table's std. At 0.02 a token's vector is the size of one Adam step of the
    # first updates, so what those steps add to every token alike (through the attention
    # and expert output matrices) outgrows it within a few steps, and every router then
    # sees the same input and picks the same experts. 1.0 as MaxText's token embedder.
    embed_init_std: float = 1.0
    remat: bool = False  # recompute each layer unit in the backward pass (memory for FLOPs)
    # Auxiliary-loss-free balancing (DeepSeek-V3): a per-expert bias added to the router
    # logits for the top-k choice only, moved after every step by
    # `rate * sign(mean load - load)` (`model.balance`); 0 keeps it at zero. In logit
    # units; 0.001 is DeepSeek-V3's for most of its run (the demo preset's is measured in
    # benchmarks/routing.py).
    router_bias_rate: float = 0.001
    # The router reads the normed hidden state minus a running mean of it, which moves
    # this share of the way to each step's batch mean (`model.balance`); 0 keeps it zero.
    router_center_rate: float = 1.0
    # Expert-parallel dropless receive buffer, in multiples of a device's own assignments
    # (tokens x top_k); 0 sizes it for the worst case (every peer sends it everything), so
    # nothing is ever dropped. A bounded buffer (MaxText's `ragged_buffer_factor`) drops
    # what does not fit, counted in `dropped_fraction` (`model.moe_dropless`).
    dropless_buffer_factor: float = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads={self.n_heads} not a multiple of n_kv_heads={self.n_kv_heads}"
            )
        if self.n_experts and not 0 < self.top_k <= self.n_experts:
            raise ValueError(f"top_k={self.top_k} must be in 1..n_experts={self.n_experts}")
        if self.dense_every and self.n_layers % self.dense_every:
            raise ValueError(f"n_layers={self.n_layers} not a multiple of dense_every")
        if self.dropless_buffer_factor < 0:
            raise ValueError(f"dropless_buffer_factor={self.dropless_buffer_factor} must be >= 0")
        if self.router_bias_rate < 0 or not 0 <= self.router_center_rate <= 1:
            raise ValueError("router_bias_rate must be >= 0 and router_center_rate in [0, 1]")
        if self.rope_scaling <= 0 or self.logits_chunk < 0 or self.attention_block <= 0:
            raise ValueError("rope_scaling and attention_block must be positive, logits_chunk >= 0")
        return self

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * self.image_channels

    @property
    def frame_dim(self) -> int:
        return self.n_mels * self.frame_stack

    @property
    def layer_kinds(self) -> tuple[str, ...]:
        """Kinds of the layers in one repeating unit; the unit is scanned n_layers/len times.

        Scanning a unit instead of single layers keeps compile time flat in depth while
        still allowing a dense layer every n-th position.
        """
        if not self.n_experts:
            return ("dense",)
        if not self.dense_every:
            return ("moe",)
        return ("moe",) * (self.dense_every - 1) + ("dense",)

    @property
    def n_units(self) -> int:
        return self.n_layers // len(self.layer_kinds)

    def capacity(self, group_size: int, train: bool) -> int:
        """Slots per expert per group: the capacity factor times a perfectly even share."""
        factor = self.capacity_factor_train if train else self.capacity_factor_eval
        return max(1, math.ceil(factor * self.top_k * group_size / self.n_experts))


PRESETS: dict[str, ModelConfig] = {
    # Unit tests: compiles and runs in seconds on one CPU core.
    "tiny": ModelConfig(
        name="tiny",
        vocab_size=128,
        d_model=64,
        n_layers=2,
        n_heads=8,
        n_kv_heads=4,
        head_dim=8,
        d_ff=128,
        n_experts=4,
        top_k=2,
        d_expert=64,
        dense_every=2,
        max_seq_len=32,
        attention="xla",
        attention_block=8,
        logits_chunk=8,
        patch_size=4,
        max_patch_grid=8,
        n_mels=8,
        frame_stack=2,
        max_audio_positions=16,
    ),
    # `make demo`: a real (small) MoE that trains for a few hundred steps on a laptop CPU.
    "demo": ModelConfig(
        name="demo",
        vocab_size=8192,
        d_model=256,
        n_layers=4,
        n_heads=8,
        n_kv_heads=4,
        head_dim=32,
        d_ff=1024,
        n_experts=8,
        top_k=2,
        d_expert=512,
        dense_every=0,
        max_seq_len=256,
        attention_block=128,
        # Routing over a few dozen steps at a peak learning rate of 3e-3: a router that
        # moves at a tenth of the other weights' speed, a balancing bias that corrects a
        # starved expert within ~30 steps, a balance loss that acts within a few
        # (benchmarks/routing.py measures each against the defaults).
        router_logit_scale=0.1,
        router_bias_rate=0.003,
        aux_loss_coef=0.1,
        patch_size=16,
        max_patch_grid=32,
        n_mels=128,
        frame_stack=4,
        max_audio_positions=256,
    ),
    # The reference model's size: ~90e9 parameters, 256k SentencePiece vocabulary,
    # top-2 of 16 experts in every layer, trained in bfloat16 on TPU v4.
    "gemini-pro-90b": ModelConfig(
        name="gemini-pro-90b",
        vocab_size=256_000,
        d_model=6144,
        n_layers=32,
        n_heads=48,
        n_kv_heads=8,
        head_dim=128,
        d_ff=24576,
        n_experts=16,
        top_k=2,
        d_expert=8960,
        dense_every=0,
        max_seq_len=8192,
        attention_block=1024,
        patch_size=16,
        max_patch_grid=64,
        n_mels=128,
        frame_stack=4,
        max_audio_positions=2048,
        dtype="bfloat16",
        param_dtype="float32",
        remat=True,
    ),
}


def get_config(name: str, overrides: list[str] | dict[str, Any] | None = None) -> ModelConfig:
    """A preset with MaxText-style `key=value` overrides (strings) or a dict of values."""
    if name not in PRESETS:
        raise KeyError(f"unknown model {name!r}; presets: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]
    if not overrides:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else map(split_override, overrides)
    return cfg.with_overrides(items)
