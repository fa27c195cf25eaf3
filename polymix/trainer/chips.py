"""Accelerators the planner and the MFU metric know: HBM and dense bf16 peak per chip.

Peaks are the vendors' dense (not sparse) bf16 numbers per chip. Where no table
entry fits (a CPU, an unknown device) the peak is measured: the best of a few large
jitted matmuls, which is what "100% MFU" can mean on that machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Chip:
    name: str
    hbm_gb: float  # memory per chip, 1e9 bytes
    bf16_tflops: float  # dense peak per chip
    link_gb_s: float = 0.0  # chip-to-chip bandwidth, all links (ICI / NVLink), 1e9 bytes/s
    note: str = ""


# Link bandwidths: Cloud TPU's per-chip inter-chip interconnect figures (v4 2,400 Gbps,
# v5e 1,600, v5p 4,800, v6e 3,584) and NVLink per GPU (A100 600 GB/s, H100/H200 900).
CHIPS: dict[str, Chip] = {
    c.name: c
    for c in (
        Chip("tpu-v4", 32, 275, 300, "the reference's chip"),
        Chip("tpu-v5e", 16, 197, 200),
        Chip("tpu-v5p", 95, 459, 600),
        Chip("tpu-v6e", 32, 918, 448),
        Chip("a100-40gb", 40, 312, 600),
        Chip("a100-80gb", 80, 312, 600),
        Chip("h100", 80, 989, 900, "SXM"),
        Chip("h200", 141, 989, 900, "SXM"),
    )
}

# jax `device_kind` substrings -> table entry, for the MFU metric.
_DEVICE_KINDS = (
    ("TPU v4", "tpu-v4"),
    ("TPU v5 lite", "tpu-v5e"),
    ("TPU v5e", "tpu-v5e"),
    ("TPU v5", "tpu-v5p"),
    ("TPU v6", "tpu-v6e"),
    ("A100-SXM4-40GB", "a100-40gb"),
    ("A100", "a100-80gb"),
    ("H100", "h100"),
    ("H200", "h200"),
)


def chip_for_device_kind(kind: str) -> Chip | None:
    for needle, name in _DEVICE_KINDS:
        if needle.lower() in kind.lower():
            return CHIPS[name]
    return None


def measure_matmul_flops(size: int = 1024, dtype: str = "float32", repeats: int = 5) -> float:
    """Best FLOP/s of a jitted [size, size] @ [size, size] chain on the default device."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32).astype(dtype)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32).astype(dtype)
    chain = 8

    @jax.jit
    def f(x: jax.Array, y: jax.Array) -> jax.Array:
        for _ in range(chain):
            x = (x @ y) * 0.03
        return x

    f(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return chain * 2.0 * size**3 / best


def device_peak_flops(configured_tflops: float = 0.0) -> tuple[float, str]:
    """Peak FLOP/s of one local device and where the number came from."""
    if configured_tflops > 0:
        return configured_tflops * 1e12, "configured"
    import jax

    chip = chip_for_device_kind(jax.devices()[0].device_kind)
    if chip is not None:
        return chip.bf16_tflops * 1e12, f"{chip.name} bf16 peak"
    return measure_matmul_flops() / jax.local_device_count(), "measured float32 matmul"
