"""Routers while a demo-like model trains on real text: balanced from the start and after.

The `make demo` run collapsed from its third step (every router sending most tokens to
the same two experts): its token vectors (std 0.02) were smaller than what the first
Adam steps add to every token alike, so every router saw nearly the same input. These
tests train a narrow copy of the `demo` preset with the demo's optimizer settings on
byte-level English text (docstrings of Python's standard library: the skewed byte
frequencies of real prose, written by nobody here) and bound the busiest expert's load
and the dropped assignments.

After the peak learning rate the shared component of the hidden states grows again
and the routers collapse (busiest 3.0x on average over steps 10-60, 27% dropped).
What keeps them apart (`.venv/bin/python benchmarks/routing.py`, steps 10-60, busiest
x E max / mean, dropped max / mean, cross-entropy of the last 5 steps / the demo's):

    none (old demo)              3.78 3.00  0.429 0.273  loss 0.991
    aux_loss_coef 0.1            3.78 2.18  0.486 0.166  loss 1.002
    bias 0.003                   4.00 3.01  0.390 0.253  loss 0.989
    centre                       2.57 1.79  0.183 0.107  loss 1.002
    centre + bias                2.52 1.60  0.164 0.075  loss 1.000
    centre + bias + scale 0.1    2.25 1.58  0.198 0.079  loss 0.998
    demo preset (all + aux 0.1)  2.10 1.53  0.164 0.075  loss 1.000
    demo, bias 0.01              3.22 1.73  0.243 0.089  loss 0.999
    demo, bias 0.03              3.31 1.90  0.295 0.113  loss 1.004
    demo, aux 0.3                2.27 1.54  0.184 0.070  loss 1.000
    demo, scale 0.03             2.20 1.54  0.172 0.073  loss 1.001
    demo, capacity 1.5           2.20 1.53  0.111 0.034  loss 0.999
    demo, capacity 1.75          2.16 1.56  0.075 0.019  loss 1.002

A bias alone cannot split tokens whose router inputs are nearly the same vector; the
centre (the router reads the hidden state minus its running mean) is what makes them
differ again, and the bias, a slower router and a larger balance loss then trim the
peaks. The peaks are not gone: one expert still takes 2.1-2.2x its share in the worst
layer on a few steps. They have two sources. At steps 8-11 the component shared by all
tokens grows faster than the centre (the previous step's mean) follows it, and what is
left of it pushes every token towards the same experts. Later peaks fall on batches
whose rows hold long runs of one byte (the `json` module's tables of '-' and ' '):
those tokens look alike to every router and pile onto the same two experts, which no
state carried from earlier steps can foresee. A faster bias overshoots: bytes come in
large classes of identical tokens, so a step of the bias moves a whole class at once.
A capacity of 1.75 keeps every step's drops under 10% at the same loss, but costs 40%
more expert slots and leaves the busiest expert where it was.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from polymix.model.balance import update_routing_state
from polymix.model.batch import TEXT, empty_batch
from polymix.model.config import ModelConfig, get_config
from polymix.model.transformer import init_params, loss_fn, param_info
from polymix.trainer.config import TrainConfig
from polymix.trainer.optimizer import decay_mask, make_optimizer

SEQ, ROWS = 128, 8


def _english_bytes() -> np.ndarray:
    docs = []
    for module in (argparse, collections, functools, json, textwrap):
        docs += [getattr(obj, "__doc__", None) for obj in vars(module).values()]
    text = "\n\n".join(d for d in docs if isinstance(d, str) and len(d) > 80)
    return np.frombuffer(text.encode("utf-8"), np.uint8)


def _batches(cfg: ModelConfig, steps: int, shuffle: bool = True) -> list[dict[str, np.ndarray]]:
    """Windows of the text, one document per row, every byte a token; shuffled across
    batches (seed 0) as the loader shuffles records, or in the text's order."""
    data = _english_bytes()
    assert data.size > steps * ROWS * (SEQ + 1), data.size
    windows = np.arange(steps * ROWS)
    if shuffle:
        windows = np.random.default_rng(0).permutation(windows)
    out = []
    for step in range(steps):
        batch = empty_batch(ROWS, SEQ, patch_dim=cfg.patch_dim, frame_dim=cfg.frame_dim)
        for row in range(ROWS):
            start = int(windows[step * ROWS + row]) * (SEQ + 1)
            window = data[start : start + SEQ + 1].astype(np.int32)
            batch["tokens"][row] = window[:-1]
            batch["targets"][row] = window[1:]
        batch["loss_mask"][:] = True
        batch["segment_ids"][:] = 1
        batch["modality"][:] = TEXT
        batch["positions"][:] = np.arange(SEQ)
        out.append(batch)
    return out


def _demo_like(**changes: object) -> ModelConfig:
    """The demo preset (8 experts, top-2, capacity 1.25, all layers MoE), narrowed."""
    narrow = {"vocab_size": 256, "d_model": 128, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
              "head_dim": 32, "d_expert": 128, "attention": "xla", "logits_chunk": 0}  # fmt: skip
    return get_config("demo").replace(**{**narrow, **changes})


DEMO_OPTIMIZER = TrainConfig(peak_lr=3e-3, warmup_steps=5, steps=30)  # `polymix demo`'s
SIXTY_STEPS = TrainConfig(peak_lr=3e-3, warmup_steps=5, steps=60)  # an ablation proxy's length


def _train(
    cfg: ModelConfig, steps: int, train_cfg: TrainConfig = DEMO_OPTIMIZER, shuffle: bool = True
) -> list[tuple[float, float, float]]:
    """(busiest expert's share x E in the worst layer, dropped fraction, cross-entropy) of
    every step, by default with the demo's optimizer settings (peak 3e-3 after 5 warm-up
    steps); the cross-entropy tells a remedy that balances by hurting the fit."""
    optimizer = make_optimizer(train_cfg, decay_mask(param_info(cfg), train_cfg))
    params = init_params(cfg, jax.random.key(0))
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, batch):
        (_, metrics), grads = jax.value_and_grad(lambda p: loss_fn(p, batch, cfg), has_aux=True)(
            params
        )
        updates, state = optimizer.update(grads, state, params)
        new_params = jax.tree.map(jnp.add, params, updates)
        params = update_routing_state(new_params, params, metrics, cfg)
        load = jnp.max(metrics["expert_load"]) * cfg.n_experts
        return params, state, load, jnp.mean(metrics["dropped_fraction"]), metrics["ce_loss"]

    history = []
    for batch in _batches(cfg, steps, shuffle):
        params, state, load, dropped, ce = step(params, state, batch)
        history.append((float(load), float(dropped), float(ce)))
    return history


def _report(history: list[tuple[float, float, float]]) -> str:
    return json.dumps([[round(a, 2), round(b, 3)] for a, b, _ in history])


def test_demo_like_routers_start_balanced() -> None:
    """Up to the peak learning rate (the first 6 steps): with token vectors of std 0.02 the
    busiest expert averaged 3.2x its share here and 27% of assignments were dropped; with
    std 1.0, 1.7x and 7%."""
    history = _train(_demo_like(), steps=6)
    busiest, dropped, _ = np.array(history).mean(0)
    assert busiest <= 2.0 and dropped <= 0.08, _report(history)


@pytest.mark.slow
def test_demo_routers_stay_balanced_on_average_after_ten_steps() -> None:
    """Steps 10-60 of the demo preset: 1.53x and 7.5% measured; without the centre 1.8x
    and 11%, without any routing state or coefficient 3.0x and 27%."""
    late = np.array(_train(_demo_like(), steps=60, train_cfg=SIXTY_STEPS)[10:])
    busiest, dropped, _ = late.mean(0)
    assert busiest <= 1.7 and dropped <= 0.09, (busiest, dropped)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="on a few steps one expert still takes 2.1x its share in the worst layer and "
    "16% of assignments are dropped; no remedy in benchmarks/routing.py brings the busiest "
    "expert under 2x on every step",
)
def test_demo_like_routers_stay_balanced_after_ten_steps() -> None:
    history = _train(_demo_like(), steps=60, train_cfg=SIXTY_STEPS)
    late = np.array(history[10:])
    assert late[:, 0].max() <= 2.0, f"busiest expert over 2x its share: {_report(history)}"
    assert late[:, 1].max() <= 0.10, f"over 10% of assignments dropped: {_report(history)}"
