"""Expert-parallel dropless routing against the capacity path: FLOPs and step time.

The paths train the same model on a data x model x expert mesh of 8 host devices
(default (2, 2, 2), the `demo` preset): the capacity path dispatches by sharding
constraints (XLA's all-to-all), the dropless path by explicit exchanges under
`shard_map` (emulated `ragged_all_to_all` + tiled grouped matmul on CPU,
`model.ragged`). Per path: the compiled step's FLOPs per device (XLA's cost analysis),
its collectives, and the best of a few timed steps (forward + backward).

    .venv/bin/python benchmarks/moe.py [--model demo] [--mesh 2,2,2] [--batch 8] [--seq-len 256]
        [--buffer-factor 1.25]

Where dropless's extra FLOPs come from (demo, (2,2,2), 8 x 256 tokens; one MoE layer
alone, forward, compiled `cost_analysis()` per device): capacity 0.51 GFLOP, dropless
0.87. A device holds 512 tokens, 1,024 assignments, 4 of the 8 experts and half of
each expert's hidden width. The capacity path computes its 4 groups x 4 experts x 80
slots = 1,280 rows (3 matmuls: 0.50 GFLOP). The dropless receive buffer holds what
every `expert` peer could send in the worst case, 2 x 1,024 = 2,048 rows (MaxText sizes
it the same way), and the CPU emulation of the grouped matmul computes every row of it
plus one tile of padding per expert (68 tiles of 32 rows: 0.29 GFLOP per matmul, 0.86
for three). Everything else in the layer is within 0.01 GFLOP on both paths. So the
whole excess is the rows of that buffer that no peer filled: `ragged_dot` on GPU and
TPU skips them, XLA:CPU has no ragged matmul to skip them with.

The third variant bounds that buffer at `--buffer-factor` times a device's own
assignments (`model.dropless_buffer_factor`; 1.25 = the capacity factor: 1,280 rows plus
a tile of padding per expert), so its FLOPs are the capacity path's within the padding;
what does not fit is dropped and counted (the `dropped` column).
"""

from __future__ import annotations

import os

if __name__ == "__main__" and "host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from polymix.model.config import get_config  # noqa: E402
from polymix.model.params import shardings_of  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.sharding import ShardingRules, make_mesh  # noqa: E402
from polymix.model.transformer import init_params, loss_fn, param_info  # noqa: E402
from polymix.trainer.step import batch_shardings  # noqa: E402


def measure(cfg, rules: ShardingRules, params, batch, repeats: int) -> dict:
    step = jax.jit(jax.value_and_grad(lambda p, b: loss_fn(p, b, cfg, rules)[0]))
    compiled = step.lower(params, batch).compile()
    hlo = compiled.as_text()
    jax.block_until_ready(compiled(params, batch))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(params, batch))
        best = min(best, time.perf_counter() - start)
    metrics = jax.jit(lambda p, b: loss_fn(p, b, cfg, rules)[1])(params, batch)
    return {
        "dropped": float(metrics["dropped_fraction"].mean()),
        "step_s": best,
        "flops": compiled.cost_analysis()["flops"],
        "all_to_all": len(re.findall(r"all-to-all(?:-start)?\(", hlo)),
        "all_gather": len(re.findall(r"all-gather(?:-start)?\(", hlo)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--mesh", default="2,2,2")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--buffer-factor", type=float, default=1.25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = get_config(args.model, ["vocab_size=2048"] if args.model == "demo" else [])
    rules = ShardingRules(make_mesh(tuple(int(s) for s in args.mesh.split(","))))
    params = jax.device_put(
        init_params(base, jax.random.key(0)), shardings_of(param_info(base), rules)
    )
    host = random_batch(base, args.batch, args.seq_len, seed=0, media=False)
    shard = batch_shardings(rules, host)
    batch = {k: jax.device_put(v, shard[k]) for k, v in host.items()}
    bounded = f"bounded{args.buffer_factor:g}"
    variants = {
        "capacity": {"dropless": False},
        "dropless": {"dropless": True},
        bounded: {"dropless": True, "dropless_buffer_factor": args.buffer_factor},
    }
    out = {
        name: measure(base.replace(**change), rules, params, batch, args.repeats)
        for name, change in variants.items()
    }
    ratio = {
        name: {k: out[name][k] / out["capacity"][k] for k in ("step_s", "flops")}
        for name in ("dropless", bounded)
    }
    report = {"model": args.model, "mesh": args.mesh, "tokens": args.batch * args.seq_len, **out}
    report["over_capacity"] = ratio
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.model}, mesh {args.mesh} on {jax.device_count()} CPU devices, "
          f"{args.batch} x {args.seq_len} tokens, forward + backward")  # fmt: skip
    for name, r in out.items():
        print(
            f"  {name:9} {r['step_s'] * 1e3:8.1f} ms  {r['flops'] / 1e9:7.2f} GFLOP/device  "
            f"all-to-all x{r['all_to_all']}  all-gather x{r['all_gather']}  "
            f"dropped {r['dropped']:.1%}"
        )
    for name, r in ratio.items():
        print(f"  {name} / capacity: time {r['step_s']:.2f}x, FLOPs {r['flops']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
