"""Training throughput: tokens/s and MFU of the full train step, against this machine's peak.

Three numbers from one process, so they share the machine's state:

1. peak: the best FLOP/s of a jitted square matmul chain (XLA's own ceiling here);
2. step: the whole jitted train step (forward, backward, clip, Adam, decay, the
   non-finite guard) on a fixed random batch, model FLOPs (PaLM convention) / time;
3. loop (with --manifest): `trainer.loop.train` on real shards, loader, metrics
   and all, to show what the loop around the step costs.

MFU = step FLOP/s / peak FLOP/s. The ratio is the figure to quote.

    .venv/bin/python benchmarks/train.py [--model demo] [--batch 4] [--seq-len 512]
        [--steps 5] [--dtype float32|bfloat16] [--manifest out/demo/run/manifest.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from polymix.model.counting import flops_per_token  # noqa: E402
from polymix.model.params import shardings_of  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.sharding import ShardingRules, make_mesh  # noqa: E402
from polymix.model.transformer import init_params, param_info  # noqa: E402
from polymix.trainer.chips import measure_matmul_flops  # noqa: E402
from polymix.trainer.config import TrainConfig, apply_overrides  # noqa: E402
from polymix.trainer.optimizer import decay_mask, make_optimizer, schedule  # noqa: E402
from polymix.trainer.step import (  # noqa: E402
    batch_shardings,
    init_state,
    make_step,
    state_shardings,
    to_global,
)


def time_step(cfg: TrainConfig, batch: int, seq_len: int, steps: int) -> dict:
    model_cfg = cfg.resolved_model()
    rules = ShardingRules(make_mesh((jax.device_count(), 1, 1)))
    info = param_info(model_cfg)
    optimizer = make_optimizer(cfg, decay_mask(info, cfg))
    params = init_params(model_cfg, jax.random.key(0), rules)
    abstract = jax.eval_shape(lambda p: init_state(p, optimizer), params)
    shardings = state_shardings(abstract, shardings_of(info, rules), rules.mesh)
    state = jax.jit(lambda p: init_state(p, optimizer), out_shardings=shardings)(params)
    host = random_batch(model_cfg, batch, seq_len, media=False)
    b_sh = batch_shardings(rules, host)
    step = make_step(model_cfg, rules, optimizer, schedule(cfg), shardings, b_sh)
    device_batch = to_global(host, b_sh)
    start = time.perf_counter()
    state, metrics = step(state, device_batch)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        state, metrics = step(state, device_batch)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    tokens = batch * seq_len
    flops = flops_per_token(model_cfg, seq_len)["train"]
    return {
        "step_s": seconds,
        "compile_s": compile_s,
        "tokens_per_s": tokens / seconds,
        "model_flops_per_s": tokens * flops / seconds,
        "train_flops_per_token": flops,
    }


def time_loop(manifest: str, model: str, overrides: list[str], batch: int, steps: int) -> dict:
    from polymix.trainer.loop import train

    cfg = apply_overrides(
        TrainConfig(),
        [
            f"model={model}",
            *(f"model.{o}" for o in overrides),
            f"steps={steps + 1}",
            f"global_batch_size={batch}",
            "warmup_steps=10",
            "decay_steps=1000",
            "progress=false",
            "plot=false",
            "peak_tflops=1",
        ],
    )
    with tempfile.TemporaryDirectory() as ckpt:
        result = train(cfg, manifest, ckpt)
        from polymix.trainer.metrics import read_metrics

        records = read_metrics(ckpt)[1:]  # drop the compiling step
    return {
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in records),
        "step_s": statistics.median(r["step_time_s"] for r in records),
        "first_loss": result.losses[0],
        "last_loss": result.losses[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--vocab", type=int, default=2048, help="model vocab (demo shards: <=2000)")
    parser.add_argument("--manifest", help="also time the full loop on these shards")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "overrides",
        nargs="*",
        default=["n_mels=128"],
        help="model key=value (demo shards: n_mels=128)",
    )
    args = parser.parse_args()

    overrides = [f"dtype={args.dtype}", f"vocab_size={args.vocab}", *args.overrides]
    size = 2048 if jax.default_backend() == "cpu" else 8192
    peak = measure_matmul_flops(size=size, dtype=args.dtype)
    cfg = TrainConfig(
        model=args.model, model_overrides=tuple(overrides), warmup_steps=10, steps=1000
    )
    step = time_step(cfg, args.batch, args.seq_len, args.steps)
    report = {
        "device": f"{jax.device_count()} x {jax.devices()[0].device_kind}",
        "model": args.model,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "dtype": args.dtype,
        "matmul_peak_flops_per_s": peak,
        "step": step,
        "mfu_vs_matmul_peak": step["model_flops_per_s"] / peak,
    }
    if args.manifest:
        loop = time_loop(args.manifest, args.model, overrides, args.batch, args.steps)
        report["loop"] = loop
        report["loop_vs_step"] = loop["tokens_per_s"] / step["tokens_per_s"]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['device']}, model {args.model} ({args.dtype}), batch {args.batch} x "
        f"{args.seq_len}"
    )
    print(f"  matmul peak (XLA, same run)  {peak / 1e9:9.1f} GFLOP/s")
    print(
        f"  train step                   {step['model_flops_per_s'] / 1e9:9.1f} GFLOP/s, "
        f"{step['tokens_per_s']:,.0f} tokens/s, {step['step_s']:.3f} s/step "
        f"(compile {step['compile_s']:.1f} s)"
    )
    print(f"  MFU vs matmul peak           {report['mfu_vs_matmul_peak']:9.3f}")
    if args.manifest:
        loop = report["loop"]
        print(
            f"  full loop on shards          {loop['tokens_per_s']:,.0f} tokens/s, "
            f"{loop['step_s']:.3f} s/step: {report['loop_vs_step']:.2f}x the bare step; "
            f"loss {loop['first_loss']:.3f} -> {loop['last_loss']:.3f}"
        )


if __name__ == "__main__":
    main()
