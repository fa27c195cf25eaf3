"""Everything into one sequence: text tokens, image patches and audio frames -> [B, L, d].

Media positions in the packed batch point into the row's `patches` / `frames`
arrays. Media are projected first (P, F rows per batch row) and gathered second,
so a text-only batch with a [B, 1, ...] media array costs nothing extra.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.batch import AUDIO, IMAGE, MODALITY_IDS, TEXT
from polymix.model.config import ModelConfig
from polymix.model.params import ParamInfo


def embed_info(cfg: ModelConfig) -> dict[str, ParamInfo]:
    d, std = cfg.d_model, cfg.init_std
    return {
        "tokens": ParamInfo((cfg.vocab_size, d), ("vocab", "embed"), std=cfg.embed_init_std),
        # Zero at init: a random vector shared by every text token is a common bias the
        # routers see before anything is learned, and it sent ~45% of layer 0's assignments
        # to one expert of 8 on the demo shards; zero starts them balanced (~20% at most).
        "modality": ParamInfo((len(MODALITY_IDS), d), ("modality", "embed"), init="zeros"),
        "patch_proj": ParamInfo((cfg.patch_dim, d), ("media_in", "embed"), std=std),
        "patch_bias": ParamInfo((d,), ("embed",), init="zeros"),
        "patch_row": ParamInfo((cfg.max_patch_grid, d), ("position", "embed"), std=std),
        "patch_col": ParamInfo((cfg.max_patch_grid, d), ("position", "embed"), std=std),
        "frame_proj": ParamInfo((cfg.frame_dim, d), ("media_in", "embed"), std=std),
        "frame_bias": ParamInfo((d,), ("embed",), init="zeros"),
        "frame_pos": ParamInfo((cfg.max_audio_positions, d), ("position", "embed"), std=std),
    }


def check_batch(batch: dict[str, Any], cfg: ModelConfig) -> None:
    """Fail with the mismatch named, not with an einsum shape error deep in the model."""
    if batch["patches"].shape[-1] != cfg.patch_dim:
        raise ValueError(
            f"patches have {batch['patches'].shape[-1]} values per patch, model expects "
            f"{cfg.patch_dim} (patch_size={cfg.patch_size}, image_channels={cfg.image_channels})"
        )
    if batch["frames"].shape[-1] != cfg.frame_dim:
        raise ValueError(
            f"frames have {batch['frames'].shape[-1]} values per position, model expects "
            f"{cfg.frame_dim} (n_mels={cfg.n_mels} x frame_stack={cfg.frame_stack})"
        )


def _gather_rows(table: jax.Array, index: jax.Array) -> jax.Array:
    """table [B, N, d], index [B, L] -> [B, L, d]."""
    return jnp.take_along_axis(table, index[..., None], axis=1, mode="clip")


def embed(params: dict[str, Any], batch: dict[str, Any], cfg: ModelConfig) -> jax.Array:
    check_batch(batch, cfg)
    dtype = jnp.dtype(cfg.dtype)
    modality = batch["modality"].astype(jnp.int32)

    text = jnp.take(params["tokens"], batch["tokens"], axis=0, mode="clip").astype(dtype)

    # Pixels 0..255 -> [-1, 1] before the projection.
    pixels = batch["patches"].astype(jnp.float32) / 127.5 - 1.0
    patches = pixels.astype(dtype) @ params["patch_proj"].astype(dtype)
    image = _gather_rows(patches, batch["patch_index"]) + params["patch_bias"].astype(dtype)
    grid = jnp.clip(batch["patch_coords"], 0, cfg.max_patch_grid - 1)
    image = image + params["patch_row"][grid[..., 0]].astype(dtype)
    image = image + params["patch_col"][grid[..., 1]].astype(dtype)

    frames = batch["frames"].astype(dtype) @ params["frame_proj"].astype(dtype)
    audio = _gather_rows(frames, batch["frame_index"]) + params["frame_bias"].astype(dtype)
    when = jnp.clip(batch["frame_coords"], 0, cfg.max_audio_positions - 1)
    audio = audio + params["frame_pos"][when].astype(dtype)

    m = modality[..., None]
    x = jnp.where(m == TEXT, text, 0) + jnp.where(m == IMAGE, image, 0)
    x = x + jnp.where(m == AUDIO, audio, 0)
    return x + params["modality"][modality].astype(dtype)
