"""Synthetic packed batches in the loader's format, for tests and benchmarks.

Rows hold several documents back to back (text, image + caption, audio + transcript)
and end in padding, so masking, media gathers and the text-only loss all get used.
"""

from __future__ import annotations

import numpy as np

from polymix.model.batch import AUDIO, IMAGE, TEXT, empty_batch
from polymix.model.config import ModelConfig


def random_batch(
    cfg: ModelConfig,
    batch: int,
    seq_len: int,
    *,
    seed: int = 0,
    max_patches: int = 16,
    max_frames: int = 16,
    media: bool = True,
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = empty_batch(
        batch,
        seq_len,
        max_patches=max_patches if media else 1,
        patch_dim=cfg.patch_dim,
        max_frames=max_frames if media else 1,
        frame_dim=cfg.frame_dim,
    )
    out["patches"][:] = rng.integers(0, 256, out["patches"].shape, dtype=np.uint8)
    out["frames"][:] = rng.standard_normal(out["frames"].shape).astype(np.float16)
    for b in range(batch):
        pos, seg, patch_used, frame_used = 0, 0, 0, 0
        while pos < seq_len - 4:
            seg += 1
            start = pos
            kind = rng.choice(["text", "image", "audio"]) if media else "text"
            if kind == "image" and patch_used < max_patches:
                rows, cols = rng.integers(1, 4, size=2)
                n = min(int(rows * cols), max_patches - patch_used, seq_len - pos - 2)
                for i in range(n):
                    out["modality"][b, pos] = IMAGE
                    out["patch_index"][b, pos] = patch_used + i
                    out["patch_coords"][b, pos] = (i // cols, i % cols)
                    pos += 1
                patch_used += n
            elif kind == "audio" and frame_used < max_frames:
                n = min(int(rng.integers(1, 6)), max_frames - frame_used, seq_len - pos - 2)
                for i in range(n):
                    out["modality"][b, pos] = AUDIO
                    out["frame_index"][b, pos] = frame_used + i
                    out["frame_coords"][b, pos] = i
                    pos += 1
                frame_used += n
            n_text = min(int(rng.integers(2, max(3, seq_len // 2))), seq_len - pos)
            out["tokens"][b, pos : pos + n_text] = rng.integers(1, cfg.vocab_size, n_text)
            out["modality"][b, pos : pos + n_text] = TEXT
            pos += n_text
            out["segment_ids"][b, start:pos] = seg
            out["positions"][b, start:pos] = np.arange(pos - start)
            # Predict the next text token of the same document.
            for i in range(start, pos - 1):
                if out["modality"][b, i + 1] == TEXT:
                    out["targets"][b, i] = out["tokens"][b, i + 1]
                    out["loss_mask"][b, i] = True
    return out
