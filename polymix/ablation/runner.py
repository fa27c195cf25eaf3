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


def run_proxies(
    manifest: Path,
    output: Path,
    settings: AblationSettings,
    mixtures: list[dict[str, float]],
    sources: list[str],
    say: Callable[[str], None] = print,
) -> list[dict[str, Any]] | None:
    """Every proxy's {index, mixture, losses}; None if a signal stopped the sweep."""
    results = []
    for index, weights in enumerate(mixtures):
        folder = proxy_folder(output, index)
        done = read_result(folder)
        if done is None:
            say(f"proxy {index + 1}/{len(mixtures)}: {mixture_text(weights)}")
            overrides = proxy_overrides(settings, weights, output / "xla-cache")
            losses = train_proxy(manifest, overrides, folder, sources)
            if losses is None:
                return None
            done = {"index": index, "mixture": weights, "losses": losses}
            write_atomically(folder / RESULT_NAME, canonical(done))
        if done["mixture"] != weights:
            raise AblationError(f"{folder / RESULT_NAME} was trained on another mixture")
        shutil.rmtree(folder / "run", ignore_errors=True)
        results.append(done)
    return results
