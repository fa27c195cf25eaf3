"""Held-out loss per source and per modality, on a fixed set of eval batches.

What is measured: the training objective's text cross-entropy (`model.transformer.loss_fn`,
the same function the step differentiates) in the model's eval mode (`train=False`: the
MoE eval capacity factor; the model has no dropout), forward only, on each source's
`eval_batches` fixed batches (`trainer.data.heldout`). The MoE auxiliary and z losses are
left out: they regularise the router and say nothing about held-out text.

- `eval/<source>/loss`: token-weighted mean over that source's batches (sum of the
  cross-entropy over its loss tokens / their count), `eval/<source>/tokens` the count.
- `eval/<modality>/loss`: token-weighted over the sources of that modality.

Both go on the metrics line of the step they were measured after (`metrics.jsonl`),
and to TensorBoard under the same names.

Nothing here touches the training loader, its state or any random key: the eval set is
read once when the run is built, from the manifest alone, so a run trains on exactly
the same batches with evaluation on or off, and a resumed run evaluates the same set.

Several processes: every process builds the same global eval batches and feeds the rows
of them its devices hold (the block its training loader reads), so together they
evaluate each batch once, and every process gets the same replicated sums.
Eval batches have `global_batch_size / grad_accum` rows: one microbatch, so evaluation
never needs more activation memory than a training step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from polymix.core.manifest import Manifest
from polymix.trainer.config import TrainConfig
from polymix.trainer.preflight import PreflightError


def eval_rows(cfg: TrainConfig) -> int:
    """Rows of one eval batch: one training microbatch."""
    return cfg.global_batch_size // cfg.grad_accum


def held_out_sources(manifest: Manifest) -> list[str]:
    """Sources of the manifest it lists eval index files for, sorted."""
    return sorted({f.source for f in manifest.index_files("eval")} & set(manifest.sources))


def check_eval(manifest: Manifest, cfg: TrainConfig) -> None:
    """Refuse, before any device time, evaluation that was asked for and cannot happen."""
    held_out = held_out_sources(manifest)
    if cfg.eval_every > 0 and not held_out:
        raise PreflightError(
            f"eval_every={cfg.eval_every}: the manifest lists no held-out (eval) shards; "
            "use eval_every=0 or a manifest written with an eval split"
        )
    by_modality: dict[str, set[str]] = {}
    for name in held_out:
        by_modality.setdefault(manifest.sources[name].modality, set()).add(name)
    for name in held_out:
        if name in by_modality and by_modality[name] != {name}:
            raise PreflightError(
                f"source {name!r} is named like a modality: eval/{name}/loss would mean both "
                f"the source and the {name} sources {sorted(by_modality[name])}"
            )


def check_mixture(manifest: Manifest, cfg: TrainConfig) -> None:
    """A `mixture` naming a source the manifest does not have is one line naming it."""
    weights = cfg.mixture_weights() or {}
    unknown = sorted(set(weights) - set(manifest.sources))
    if unknown:
        raise PreflightError(
            f"mixture={cfg.mixture!r} names unknown source(s) {unknown}; the manifest's "
            f"sources are {sorted(manifest.sources)}"
        )


def token_weighted(
    sums: Mapping[str, tuple[float, float]], names: list[str]
) -> tuple[float, float]:
    """(mean loss, tokens) over `names`' (loss sum, tokens) pairs."""
    total = sum(sums[n][0] for n in names)
    tokens = sum(sums[n][1] for n in names)
    return (total / tokens if tokens else float("nan")), tokens


def _put(record: dict[str, float], name: str, loss: float, tokens: float) -> None:
    """A held-out set without text targets (images or audio without captions) has no
    loss to report: only its token count (0) is logged, never a NaN."""
    record[f"eval/{name}/tokens"] = tokens
    if tokens:
        record[f"eval/{name}/loss"] = loss


def eval_record(
    sums: Mapping[str, tuple[float, float]], modality_of: Mapping[str, str]
) -> dict[str, float]:
    """`eval/<source>/...` and `eval/<modality>/...` from per-source (loss sum, tokens)."""
    record: dict[str, float] = {}
    groups: dict[str, list[str]] = {}
    for name in sorted(sums):
        groups.setdefault(modality_of[name], []).append(name)
        _put(record, name, *token_weighted(sums, [name]))
    for modality, names in sorted(groups.items()):
        _put(record, modality, *token_weighted(sums, names))
    return record


def make_eval_step(
    model_cfg: Any, rules: Any, param_shardings: Any, batch_sharding: Any
) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
    """Jitted forward pass: (cross-entropy summed over the loss tokens, their count)."""
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from polymix.model.transformer import loss_fn

    def step(params: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        _, aux = loss_fn(params, batch, model_cfg, rules, train=False)
        return aux["ce_loss"] * aux["loss_tokens"], aux["loss_tokens"]

    replicated = NamedSharding(rules.mesh, P())
    return jax.jit(
        step,
        in_shardings=(param_shardings, batch_sharding),
        out_shardings=(replicated, replicated),
    )


@dataclass
class Evaluator:
    """This process's rows of every source's eval batches, and the step that scores them."""

    batches: dict[str, list[dict[str, np.ndarray]]]  # source -> local rows of its batches
    modality_of: dict[str, str]
    rows: int  # global rows per batch
    step: Any
    batch_sharding: Any
    _compiled: bool = False

    def sums(self, params: Any) -> dict[str, tuple[float, float]]:
        """Per source: (cross-entropy summed over its loss tokens, their count)."""
        import jax

        from polymix.trainer.distributed import barrier
        from polymix.trainer.step import to_global

        out = {}
        for name, batches in self.batches.items():
            total, tokens = 0.0, 0.0
            for local in batches:
                batch = to_global(local, self.batch_sharding, self.rows)
                if not self._compiled:  # compile here, then meet: see `distributed.barrier`
                    self.step = self.step.lower(params, batch).compile()
                    barrier("eval-compiled")
                    self._compiled = True
                loss_sum, count = jax.device_get(self.step(params, batch))
                total, tokens = total + float(loss_sum), tokens + float(count)
            out[name] = (total, tokens)
        return out

    def evaluate(self, params: Any) -> dict[str, float]:
        return eval_record(self.sums(params), self.modality_of)


def build_evaluator(
    cfg: TrainConfig,
    model_cfg: Any,
    manifest: Manifest,
    loader: Any,
    rules: Any,
    param_shardings: Any,
    say: Callable[[str], None],
) -> Evaluator | None:
    """The run's evaluator, or None when no source has held-out records (or eval is off)."""
    if not cfg.eval_batches:
        return None
    from polymix.trainer.data.heldout import heldout_batches
    from polymix.trainer.distributed import data_shard
    from polymix.trainer.step import batch_shardings

    dataset = loader.dataset
    rows = eval_rows(cfg)
    index, count = data_shard(
        rules.sharding(("batch", "act_seq"), (rows, dataset.layout.seq_len)),
        (rows, dataset.layout.seq_len),
    )
    per = rows // count
    any_held_out = bool(held_out_sources(manifest))
    batches: dict[str, list[dict[str, np.ndarray]]] = {}
    for name in sorted(manifest.sources):
        found = heldout_batches(
            manifest,
            name,
            layout=dataset.layout,
            rows=rows,
            batches=cfg.eval_batches,
            max_patches=dataset.max_patches,
            max_frames=dataset.max_frames,
            verify=True,
        )
        if not found:
            if any_held_out:
                say(f"warning: eval: source {name} has no held-out records; not evaluated")
            continue
        batches[name] = [
            {k: v[index * per : (index + 1) * per] for k, v in b.items()} for b in found
        ]
    if not batches:
        return None
    import jax

    first = next(iter(batches.values()))[0]
    shapes = {k: jax.ShapeDtypeStruct((rows, *v.shape[1:]), v.dtype) for k, v in first.items()}
    sharding = batch_shardings(rules, shapes)
    step = make_eval_step(model_cfg, rules, param_shardings, sharding)
    modality_of = {name: manifest.sources[name].modality for name in batches}
    return Evaluator(batches, modality_of, rows, step, sharding)
