"""Routing balance of the demo preset over 60 steps, with and without each remedy.

Trains the narrow demo copy of `tests/model/test_routing_balance.py` (byte-level
English, the demo's optimizer: peak 3e-3 after 5 warm-up steps, cosine over the run)
once per variant, and prints, over the steps after the 10th, the busiest expert's
share x E in the worst layer and the dropped share of assignments (worst and mean),
each also as a ratio to the variant without any remedy, measured in the same run, and
the cross-entropy of the last 5 steps as a ratio to the demo preset's.

    .venv/bin/python benchmarks/routing.py [--steps 60]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from polymix.trainer.config import TrainConfig  # noqa: E402
from tests.model.test_routing_balance import _demo_like, _train  # noqa: E402

NONE = {"router_bias_rate": 0.0, "router_center_rate": 0.0, "router_logit_scale": 1.0,
        "aux_loss_coef": 0.01}  # fmt: skip
DEMO = "demo preset (all + aux 0.1)"
VARIANTS = {
    "none (old demo)": NONE,
    "aux_loss_coef 0.1": {**NONE, "aux_loss_coef": 0.1},
    "bias 0.003": {**NONE, "router_bias_rate": 0.003},
    "centre": {**NONE, "router_center_rate": 1.0},
    "centre + bias": {**NONE, "router_center_rate": 1.0, "router_bias_rate": 0.003},
    "centre + bias + scale 0.1": {
        **NONE,
        "router_center_rate": 1.0,
        "router_bias_rate": 0.003,
        "router_logit_scale": 0.1,
    },  # fmt: skip
    DEMO: {},
    # Each of the following changes one thing of the demo preset.
    "demo, bias 0.01": {"router_bias_rate": 0.01},
    "demo, bias 0.03": {"router_bias_rate": 0.03},
    "demo, aux 0.3": {"aux_loss_coef": 0.3},
    "demo, scale 0.03": {"router_logit_scale": 0.03},
    "demo, capacity 1.5": {"capacity_factor_train": 1.5},
    "demo, capacity 1.75": {"capacity_factor_train": 1.75},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    optimizer = TrainConfig(peak_lr=3e-3, warmup_steps=5, steps=args.steps)
    rows, loss = {}, {}
    for name, change in VARIANTS.items():
        history = np.array(_train(_demo_like(**change), args.steps, optimizer))
        late = history[10:]
        rows[name] = (late[:, 0].max(), late[:, 0].mean(), late[:, 1].max(), late[:, 1].mean())
        loss[name] = history[-5:, 2].mean()
    base = rows["none (old demo)"]
    print(f"steps 10-{args.steps}: busiest x E (max, mean), dropped (max, mean); / none;")
    print(f"  cross-entropy of the last 5 steps / the demo preset's ({loss[DEMO]:.4f})")
    for name, r in rows.items():
        ratios = " ".join(f"{a / b:.2f}" for a, b in zip(r, base, strict=True))
        print(
            f"  {name:28} {r[0]:.2f} {r[1]:.2f}  {r[2]:.3f} {r[3]:.3f}   [{ratios}]"
            f"  loss {loss[name] / loss[DEMO]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
