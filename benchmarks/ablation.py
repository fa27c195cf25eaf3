"""Proxies per hour: what one `polymix ablate` proxy costs on this machine, and the fit.

Trains `--proxies` tiny proxies exactly as the sweep does (`ablation.runner.train_proxy`,
the in-process `polymix train` with the sweep's overrides and its XLA cache, so the
first proxy pays the compile and the rest reuse it), and as a baseline the same steps
as a plain training run without the mixture and held-out evaluation, in the same
process. Prints warm proxies per hour, the ratio of a proxy to the plain run (what
evaluation and the sweep's bookkeeping add), and the time of fits + search over the
proxies' losses.

If the trainer has no held-out evaluation yet, only the plain run is timed and the
proxy rate is reported from it as an upper bound.

    .venv/bin/python benchmarks/ablation.py [--proxies 4] [--steps 400] [--model tiny]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polymix.ablation.runner import proxy_overrides, train_proxy  # noqa: E402
from polymix.ablation.sampling import sample_mixture  # noqa: E402
from polymix.ablation.settings import AblationSettings  # noqa: E402
from polymix.ablation.sweep import analyse  # noqa: E402
from polymix.trainer.config import TrainConfig, apply_overrides  # noqa: E402
from polymix.trainer.loop import train  # noqa: E402
from tests.ablation.corpus import write_sources  # noqa: E402

PLANNED = {"counting": 0.3, "noise": 0.7}
CAPS = dict.fromkeys(PLANNED, 1.0)


def plain_run(manifest: Path, folder: Path, name: str, settings: AblationSettings) -> float:
    """The proxy's recipe with what only a proxy has (mixture, evaluation) left out."""
    keys = set(TrainConfig.model_fields)
    overrides = [
        o
        for o in proxy_overrides(settings, PLANNED, folder / "xla-cache")
        if o.split("=", 1)[0] in keys and not o.startswith(("mixture=", "eval_"))
    ]
    began = time.perf_counter()
    train(apply_overrides(TrainConfig(), overrides), manifest, folder / name, resume=True)
    return time.perf_counter() - began


def proxy_runs(manifest: Path, folder: Path, settings: AblationSettings) -> list[float]:
    times = []
    for index in range(settings.proxies):
        weights = sample_mixture(index, 0, PLANNED, CAPS, settings.concentration)
        overrides = proxy_overrides(settings, weights, folder / "xla-cache")
        began = time.perf_counter()
        train_proxy(manifest, overrides, folder / f"proxy-{index}", sorted(PLANNED))
        times.append(time.perf_counter() - began)
    return times


def fit_time(settings: AblationSettings, proxies: int) -> float:
    mixtures = [sample_mixture(i, 0, PLANNED, CAPS, settings.concentration) for i in range(proxies)]
    records = [
        {"index": i, "mixture": m, "losses": {"counting": 4 - m["counting"], "noise": 4.0}}
        for i, m in enumerate(mixtures)
    ]
    began = time.perf_counter()
    analyse(records, sorted(PLANNED), PLANNED, CAPS, settings, "0" * 64)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--proxies", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--fit-proxies", type=int, default=64)
    args = parser.parse_args()
    print("command: .venv/bin/python benchmarks/ablation.py " + " ".join(sys.argv[1:]))
    settings = AblationSettings(proxies=args.proxies, steps=args.steps, proxy_model=args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = write_sources(folder / "corpus", PLANNED, records=2000, eval_records=64)
        plain_first = plain_run(manifest, folder, "plain-a", settings)  # compiles
        plain = plain_run(manifest, folder, "plain-b", settings)  # from the same XLA cache
        print(f"plain run of {args.steps} steps: {plain:.1f} s warm ({plain_first:.1f} s cold)")
        evaluates = {"mixture", "eval_every"} <= set(TrainConfig.model_fields)
        if evaluates:
            times = proxy_runs(manifest, folder, settings)
            warm = statistics.median(times[1:] or times)
            print(
                f"proxy: {warm:.1f} s warm ({times[0]:.1f} s first); {warm / plain:.2f}x the plain run"
            )
        else:
            warm = plain
            print(
                "the trainer has no held-out evaluation yet: proxy rate from the plain run (upper bound)"
            )
        print(f"proxies per hour ({args.model}, {args.steps} steps): {3600 / warm:.0f}")
        fits = fit_time(settings, args.fit_proxies)
        print(
            f"fits + search over {args.fit_proxies} proxies: {fits:.1f} s ({fits / warm:.2f} proxies' time)"
        )


if __name__ == "__main__":
    main()
