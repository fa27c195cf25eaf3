"""`polymix plan`'s per-chip memory against XLA's buffer assignment of the compiled step.

For each configuration the real train step (forward, backward, clip, Adam, the donated
state) is lowered and compiled for a mesh of 8 host devices, and XLA's
`memory_analysis()` gives the bytes one device needs: arguments + outputs - aliased
(the donated state) + temporaries. The plan's total comes from shapes alone
(`trainer.plan_memory.memory`). Ratio = plan / XLA.

    .venv/bin/python benchmarks/plan_vs_xla.py [--quick] [--json]
"""

from __future__ import annotations

import os

# As a script: 8 host devices for the meshes (the test imports only the single-device case).
if __name__ == "__main__" and "host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from polymix.model.config import get_config  # noqa: E402
from polymix.model.params import shardings_of  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.sharding import ShardingRules, full_mesh_shape, make_mesh  # noqa: E402
from polymix.model.transformer import abstract_params, param_info  # noqa: E402
from polymix.trainer.config import TrainConfig  # noqa: E402
from polymix.trainer.optimizer import decay_mask, make_optimizer, schedule  # noqa: E402
from polymix.trainer.plan_memory import PlanMesh, memory  # noqa: E402
from polymix.trainer.step import batch_shardings, init_state, make_step, state_shardings  # noqa: E402

WIDE_TINY = ["attention=blockwise", "n_layers=4", "d_model=128", "d_expert=256", "d_ff=256"]
DEMO = ["vocab_size=2048"]
# (preset, model overrides, mesh, global batch, seq_len, grad_accum)
CASES = [
    ("tiny", WIDE_TINY, (1, 1, 1), 16, 64, 1),
    ("demo", DEMO, (1, 1, 1), 4, 256, 1),
    ("demo", [*DEMO, "n_layers=8"], (1, 1, 1), 8, 256, 1),
    ("demo", [*DEMO, "n_layers=8", "remat=true"], (1, 1, 1), 8, 256, 1),
    ("demo", ["vocab_size=8192"], (1, 1, 1), 8, 256, 1),
    ("demo", DEMO, (1, 1, 1), 8, 256, 2),
    ("demo", DEMO, (2, 2, 2), 8, 256, 1),
    ("demo", DEMO, (1, 2, 2, 1, 2), 8, 256, 1),
    ("demo", [*DEMO, "remat=true"], (2, 1, 1, 2, 2), 8, 256, 1),
]
QUICK = CASES[:1]


def xla_bytes(preset: str, overrides: list[str], mesh: tuple, batch: int, seq: int, accum: int):
    """arguments + outputs - aliased + temporaries of the compiled train step, per device."""
    cfg = get_config(preset, overrides)
    train = TrainConfig(model=preset, steps=100, warmup_steps=10, grad_accum=accum)
    rules = ShardingRules(make_mesh(mesh))
    info = param_info(cfg)
    optimizer = make_optimizer(train, decay_mask(info, train))
    abstract = jax.eval_shape(lambda p: init_state(p, optimizer), abstract_params(cfg))
    shardings = state_shardings(abstract, shardings_of(info, rules), rules.mesh)
    host = random_batch(cfg, batch, seq, seed=0, media=False)
    b_shard = batch_shardings(rules, host)
    step = make_step(cfg, rules, optimizer, schedule(train), shardings, b_shard, grad_accum=accum)
    state = jax.tree.map(
        lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), abstract, shardings
    )
    data = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=b_shard[k]) for k, v in host.items()}
    m = step.lower(state, data).compile().memory_analysis()
    args = m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
    return args + m.temp_size_in_bytes


def plan_bytes(preset: str, overrides: list[str], mesh: tuple, batch: int, seq: int, accum: int):
    d, f, c, m, e = full_mesh_shape(mesh)
    return memory(get_config(preset, overrides), PlanMesh(d, f, m, e, c), seq, batch, accum).total()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first configuration only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for preset, overrides, mesh, batch, seq, accum in QUICK if args.quick else CASES:
        xla = xla_bytes(preset, overrides, mesh, batch, seq, accum)
        plan = plan_bytes(preset, overrides, mesh, batch, seq, accum)
        rows.append(
            {
                "preset": preset,
                "overrides": overrides,
                "mesh": ",".join(map(str, full_mesh_shape(mesh))),
                "batch": f"{batch}x{seq}",
                "grad_accum": accum,
                "plan_gb": plan / 1e9,
                "xla_gb": xla / 1e9,
                "ratio": plan / xla,
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"{preset:5} {' '.join(overrides):62} mesh {r['mesh']:10} {r['batch']:7} "
                f"accum {accum}  plan {r['plan_gb']:7.3f} GB  XLA {r['xla_gb']:7.3f} GB  "
                f"ratio {r['ratio']:.2f}",
                flush=True,
            )
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
