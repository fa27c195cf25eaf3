"""Model FLOPs utilization of the MoE decoder on this machine.

Times one forward+backward step of a preset (default `demo`) and divides the model
FLOPs it does (PaLM convention, `model.counting.flops_per_token`) by the float32
matmul peak that XLA reaches on the same machine in the same run. The ratio, not
the absolute speed, is the figure to quote: it says how much of what this CPU can
do the model gets, and carries over between machines far better than seconds.
A second line compares with a matmul of the model's own (narrow) head shape, the
ceiling a model this small can reach on the backend, so the two sources of loss
(narrow shapes vs the model's own overhead) stay apart.

    .venv/bin/python benchmarks/model.py [--model demo] [--batch 8] [--seq-len 256]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from polymix.model.config import get_config  # noqa: E402
from polymix.model.counting import flops_per_token  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.transformer import init_params, loss_fn  # noqa: E402


def _time(fn: Callable[[], Any], repeats: int) -> float:
    """Best seconds of `repeats` calls after a warm-up (compile) call.

    Best, not median, for the baseline and the model alike: other work on a shared
    machine only ever slows a call down, so the minimum is the least noisy estimate.
    """
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048), repeats: int = 5) -> dict[str, float]:
    """Best float32 FLOP/s of a square XLA matmul: the roofline the model is measured against."""
    best = {"flops_per_s": 0.0, "n": 0}
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
        f = jax.jit(jnp.matmul)
        rate = 2 * n**3 / _time(lambda f=f, a=a, b=b: f(a, b), repeats)
        if rate > best["flops_per_s"]:
            best = {"flops_per_s": rate, "n": n}
    return best


def shaped_matmul(tokens: int, d_model: int, width: int, repeats: int = 5) -> float:
    """FLOP/s of the model's own matmul shape [tokens, d] x [d, width] with its two
    backward products: the ceiling this backend reaches for a model this narrow."""
    x = jax.random.normal(jax.random.key(0), (tokens, d_model), jnp.float32)
    w = jax.random.normal(jax.random.key(1), (d_model, width), jnp.float32)
    g = jax.random.normal(jax.random.key(2), (tokens, width), jnp.float32)
    f = jax.jit(lambda x, w, g: (x @ w, g @ w.T, x.T @ g))
    return 3 * 2 * tokens * d_model * width / _time(lambda: f(x, w, g), repeats)


def model_step(model: str, batch: int, seq_len: int, repeats: int, overrides: list[str]) -> dict:
    cfg = get_config(model, overrides)
    params = init_params(cfg, jax.random.key(0))
    data = random_batch(cfg, batch, seq_len, seed=0)

    @jax.jit
    def step(params: Any, data: Any) -> Any:
        return jax.value_and_grad(lambda p: loss_fn(p, data, cfg)[0])(params)

    seconds = _time(lambda: step(params, data), repeats)
    tokens = batch * seq_len
    model_flops = flops_per_token(cfg, seq_len)["train"] * tokens
    return {
        "model": model,
        "overrides": overrides,
        "batch": batch,
        "seq_len": seq_len,
        "step_s": seconds,
        "tokens_per_s": tokens / seconds,
        "model_flops": model_flops,
        "model_flops_per_s": model_flops / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("overrides", nargs="*", help="model config key=value overrides")
    args = parser.parse_args(argv)

    peak_before = matmul_peak()
    step = model_step(args.model, args.batch, args.seq_len, args.repeats, args.overrides)
    peak_after = matmul_peak()
    cfg = get_config(args.model, args.overrides)
    shaped = shaped_matmul(args.batch * args.seq_len, cfg.d_model, cfg.vocab_size)
    # Measured before and after the model: the better peak, so MFU is never flattered.
    peak = max(peak_before["flops_per_s"], peak_after["flops_per_s"])
    result = {
        **step,
        "devices": f"{jax.device_count()} x {jax.devices()[0].device_kind}",
        "matmul_peak_flops_per_s": peak,
        "mfu": step["model_flops_per_s"] / peak,
        "shaped_matmul_flops_per_s": shaped,
        "fraction_of_shaped_matmul": step["model_flops_per_s"] / shaped,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"device                     {result['devices']}")
    print(f"XLA f32 matmul peak        {peak / 1e9:8.2f} GFLOP/s (baseline, same run)")
    print(
        f"{args.model} fwd+bwd step      {step['step_s'] * 1e3:8.1f} ms "
        f"for {args.batch}x{args.seq_len} tokens ({step['tokens_per_s']:.0f} tokens/s)"
    )
    print(f"model FLOP/s               {step['model_flops_per_s'] / 1e9:8.2f} GFLOP/s")
    print(f"MFU (model / matmul peak)  {result['mfu']:8.3f}")
    print(
        f"same-shape matmul fwd+bwd  {shaped / 1e9:8.2f} GFLOP/s "
        f"([{args.batch * args.seq_len}, {cfg.d_model}] x [{cfg.d_model}, {cfg.vocab_size}]); "
        f"model reaches {result['fraction_of_shaped_matmul']:.2f} of it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
