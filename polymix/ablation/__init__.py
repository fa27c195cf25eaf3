"""Mixture by ablation (RegMix, Liu et al. 2025; Data Mixing Laws, Ye et al. 2024).

Many tiny proxy models, each trained by the real trainer on a mixture drawn from a
Dirichlet around the planned weights, give (mixture -> held-out loss per source) pairs.
A regression per source (LightGBM and a log-linear law) learns that map; the better
cross-validated one is searched over the simplex, within the planner's epoch caps, for
the mixture with the lowest objective. Parts: `settings` (the one schema of the knobs),
`sampling` (mixtures and caps), `runner` (proxies, resumable), `fits`, `search`,
`result` (the `ablation.json` schema), `plots`, `sweep` (the whole thing, in order).

Sharing one accelerator between proxies: the proxies differ only in which records
their batches hold, never in shapes or program, so on a GPU/TPU they could train as one
batch of runs: stack P parameter sets on a leading axis and `jax.vmap` the train step
over it (each run keeps its own optimizer state and loader), which turns P small matmuls
into one P-times-larger one and fills a chip that one tiny proxy leaves idle. On this
CPU the proxies run one after another, each in its own trainer call, so the code path is
exactly the one a user's `polymix train` takes.
"""
