"""Train one proxy per sampled mixture with the real trainer; read its held-out losses.

Each proxy is `polymix.trainer.loop.train`, the function behind `polymix train`, called
in this process with the same `key=value` overrides a user would type
(`mixture=a=0.6,b=0.4 eval_every=0 eval_batches=4 ...`), so a proxy is exactly a run the
user could repeat by hand. Running in-process (not a subprocess per proxy) lets every
proxy after the first reuse the compiled step from XLA's persistent cache in
`OUTPUT/xla-cache`.

Resuming: a proxy's result is `OUTPUT/proxies/<index>/result.json`, written to a temporary
name and renamed, so it is either whole or absent. A killed sweep, started again with the
same settings, skips every proxy with a result and continues the one it was training from
its checkpoint (its trainer folder `run/` is kept until the result is written).
`OUTPUT/sweep.json` records the settings that decide the results; a restart with other
ones is refused rather than mixing two sweeps in one folder.

Side by side (`side_by_side=K` > 1), K proxies train at once as one vmapped step
(`ablation.side_by_side`); they write the same `result.json`, and a group not finished
when the sweep was killed is trained again from step 0 (a group keeps no checkpoint).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from polymix.ablation.settings import AblationError, AblationSettings

RESULT_NAME = "result.json"
SWEEP_NAME = "sweep.json"


def proxy_folder(output: Path, index: int) -> Path:
    return output / "proxies" / f"{index:05d}"


def write_atomically(path: Path, text: str) -> None:
    """`text` at `path`, or nothing there: a rename is atomic on one file system."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def canonical(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def mixture_text(weights: Mapping[str, float]) -> str:
    """The trainer's `mixture=` value; sources with no share are left out (never drawn)."""
    return ",".join(f"{name}={w!r}" for name, w in sorted(weights.items()) if w > 0)


def shown_mixture(weights: Mapping[str, float]) -> str:
    """The mixture as a person reads it: four decimals (the trainer gets every digit)."""
    return ", ".join(f"{name} {w:.4f}" for name, w in sorted(weights.items()) if w > 0)


def proxy_overrides(
    settings: AblationSettings, weights: Mapping[str, float], cache: Path
) -> list[str]:
    """The proxy's `polymix train` overrides. A short run needs a short warm-up and a
    learning rate for a tiny model; `train_overrides` come last and win."""
    steps = settings.steps
    return [
        f"model={settings.proxy_model}",
        f"steps={steps}",
        f"seed={settings.seed}",
        f"global_batch_size={settings.batch_size}",
        f"mixture={mixture_text(weights)}",
        "eval_every=0",
        f"eval_batches={settings.eval_batches}",
        f"warmup_steps={max(1, steps // 10)}",
        "peak_lr=3e-3",
        f"checkpoint_every={max(1, steps // 2)}",
        "keep_checkpoints=1",
        "verify=lazy",
        "progress=false",
        "plot=false",
        "peak_tflops=1",
        f"compilation_cache={cache}",
        *settings.train_overrides,
    ]


def final_eval_losses(records: list[dict[str, Any]], sources: list[str]) -> dict[str, float]:
    """Each source's held-out loss at the run's last evaluation (`eval/<source>/loss`)."""
    for record in reversed(records):
        if any(key.startswith("eval/") for key in record):
            # A held-out set without text targets (media without captions) has no loss.
            scored = [s for s in sources if record.get(f"eval/{s}/tokens", 1) > 0]
            missing = [s for s in scored if f"eval/{s}/loss" not in record]
            if missing:
                raise AblationError(f"the proxy's last evaluation has no loss for {missing}")
            return {s: float(record[f"eval/{s}/loss"]) for s in scored}
    raise AblationError("the proxy's metrics.jsonl holds no evaluation (eval/<source>/loss)")


def train_proxy(
    manifest: Path, overrides: list[str], folder: Path, sources: list[str]
) -> dict[str, float] | None:
    """Train in `folder/run`; the final held-out losses, or None when a signal stopped it."""
    from polymix.trainer.config import TrainConfig, apply_overrides
    from polymix.trainer.loop import train
    from polymix.trainer.metrics import read_metrics

    cfg = apply_overrides(TrainConfig(), overrides)
    result = train(cfg, manifest, folder / "run", resume=True)
    if result.stopped_by:
        return None
    return final_eval_losses(read_metrics(folder / "run"), sources)


def check_sweep(output: Path, identity: dict[str, Any]) -> None:
    """Record the sweep's identity, or refuse a folder that holds another sweep."""
    path = output / SWEEP_NAME
    if path.exists():
        stored = json.loads(path.read_text())
        changed = sorted(
            k for k in identity.keys() | stored.keys() if identity.get(k) != stored.get(k)
        )
        if changed:
            key = changed[0]
            raise AblationError(
                f"{output} holds a sweep with {key}={stored.get(key)!r}, not {identity.get(key)!r}; "
                "use the same settings to resume it, or a new --output"
            )
        return
    write_atomically(path, canonical(identity))


def read_result(folder: Path) -> dict[str, Any] | None:
    path = folder / RESULT_NAME
    return json.loads(path.read_text()) if path.exists() else None


def _kept(output: Path, index: int, weights: Mapping[str, float], done: dict) -> dict:
    """A proxy's result, checked against its mixture; its trainer folder is let go."""
    folder = proxy_folder(output, index)
    if done["mixture"] != weights:
        raise AblationError(f"{folder / RESULT_NAME} was trained on another mixture")
    shutil.rmtree(folder / "run", ignore_errors=True)
    return done


def _write_result(output: Path, index: int, weights: Mapping[str, float], losses: dict) -> dict:
    done = {"index": index, "mixture": dict(weights), "losses": losses}
    write_atomically(proxy_folder(output, index) / RESULT_NAME, canonical(done))
    return done


def run_one_by_one(
    manifest: Path,
    output: Path,
    settings: AblationSettings,
    mixtures: list[dict[str, float]],
    sources: list[str],
    say: Callable[[str], None],
) -> list[dict[str, Any]] | None:
    """Each proxy in turn, resumed from its own checkpoint if a kill interrupted it."""
    results = []
    for index, weights in enumerate(mixtures):
        done = read_result(proxy_folder(output, index))
        if done is None:
            say(f"proxy {index + 1}/{len(mixtures)}: {shown_mixture(weights)}")
            overrides = proxy_overrides(settings, weights, output / "xla-cache")
            losses = train_proxy(manifest, overrides, proxy_folder(output, index), sources)
            if losses is None:
                return None
            done = _write_result(output, index, weights, losses)
        results.append(_kept(output, index, weights, done))
    return results


def run_side_by_side(
    manifest: Path,
    output: Path,
    settings: AblationSettings,
    mixtures: list[dict[str, float]],
    sources: list[str],
    say: Callable[[str], None],
) -> list[dict[str, Any]] | None:
    """Fixed groups of K consecutive indices, each trained whole as one vmapped run.

    A group is the unit of resuming: one with a proxy not done is trained again from
    step 0, all K of it, so a proxy is always trained in the same company and its
    losses do not depend on when the sweep was killed. Results already written are kept.
    """
    from polymix.ablation.side_by_side import train_group
    from polymix.trainer.loop import StopFlag

    k, total = settings.side_by_side, len(mixtures)
    done = [read_result(proxy_folder(output, i)) for i in range(total)]
    with StopFlag().installed() as flag:
        for start in range(0, total, k):
            group = range(start, min(start + k, total))
            if all(done[i] is not None for i in group):
                continue
            say(f"proxies {start + 1}-{group[-1] + 1}/{total} side by side")
            overrides = [
                proxy_overrides(settings, mixtures[i], output / "xla-cache") for i in group
            ]
            trained = train_group(manifest, overrides, say, lambda: flag.signal)
            if trained.stopped_by:
                return None
            for i, record in zip(group, trained.evaluations, strict=True):
                if done[i] is None:
                    losses = final_eval_losses([record], sources)
                    done[i] = _write_result(output, i, mixtures[i], losses)
    return [_kept(output, i, w, d) for i, (w, d) in enumerate(zip(mixtures, done, strict=True))]


def run_proxies(
    manifest: Path,
    output: Path,
    settings: AblationSettings,
    mixtures: list[dict[str, float]],
    sources: list[str],
    say: Callable[[str], None] = print,
) -> list[dict[str, Any]] | None:
    """Every proxy's {index, mixture, losses}; None if a signal stopped the sweep.

    Both ways write the same `result.json` per proxy, so resuming, the fits and the
    report never ask which one trained a proxy.
    """
    run = run_one_by_one if settings.side_by_side == 1 else run_side_by_side
    return run(manifest, output, settings, mixtures, sources, say)
