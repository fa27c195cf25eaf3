"""Proxies per hour: one by one against side by side, and what a proxy costs.

Trains `--proxies` tiny proxies exactly as the sweep does one by one
(`ablation.runner.train_proxy`, the in-process `polymix train` with the sweep's
overrides and its XLA cache, so the first proxy pays the compile and the rest reuse it),
and as a baseline the same steps as a plain training run without the mixture and
held-out evaluation, in the same process. Then the same sweep's proxies side by side
(`ablation.side_by_side.train_group`, one vmapped step) for each K of `--side-by-side`:
one group compiles, a second is timed warm. Prints warm proxies per hour of each way
and the side-by-side rate as a ratio of the one-by-one rate measured in the same run;
the time of fits + search over the proxies' losses.

    .venv/bin/python benchmarks/ablation.py [--proxies 4] [--steps 400] [--side-by-side 4,8]
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
from polymix.ablation.side_by_side import train_group  # noqa: E402
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


def group_time(manifest: Path, folder: Path, settings: AblationSettings, k: int) -> float:
    """Seconds of one warm group of `k` proxies (a first group of the same shapes compiles)."""
    times = []
    for first in (0, k):
        weights = [
            sample_mixture(first + i, 0, PLANNED, CAPS, settings.concentration) for i in range(k)
        ]
        overrides = [proxy_overrides(settings, w, folder / "xla-cache") for w in weights]
        began = time.perf_counter()
        train_group(manifest, overrides, say=lambda _: None)
        times.append(time.perf_counter() - began)
    print(f"side by side, K={k}: a group {times[1]:.1f} s warm ({times[0]:.1f} s first)")
    return times[1]


def fit_time(settings: AblationSettings, proxies: int) -> float:
    mixtures = [sample_mixture(i, 0, PLANNED, CAPS, settings.concentration) for i in range(proxies)]
    records = [
        {"index": i, "mixture": m, "losses": {"counting": 4 - m["counting"], "noise": 4.0}}
        for i, m in enumerate(mixtures)
    ]
    began = time.perf_counter()
    analyse(records, sorted(PLANNED), PLANNED, CAPS, settings, "0" * 64)
    return time.perf_counter() - began


def one_by_one(manifest: Path, folder: Path, settings: AblationSettings) -> float:
    """Seconds of one warm proxy trained alone, and what it costs over a plain run."""
    plain_first = plain_run(manifest, folder, "plain-a", settings)  # compiles
    plain = plain_run(manifest, folder, "plain-b", settings)  # from the same XLA cache
    print(f"plain run of {settings.steps} steps: {plain:.1f} s warm ({plain_first:.1f} s cold)")
    times = proxy_runs(manifest, folder, settings)
    warm = statistics.median(times[1:] or times)
    print(f"proxy: {warm:.1f} s warm ({times[0]:.1f} s first); {warm / plain:.2f}x the plain run")
    return warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--proxies", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--fit-proxies", type=int, default=64)
    parser.add_argument("--side-by-side", default="4,8", help="K values, comma-separated")
    args = parser.parse_args()
    print("command: .venv/bin/python benchmarks/ablation.py " + " ".join(sys.argv[1:]))
    settings = AblationSettings(proxies=args.proxies, steps=args.steps, proxy_model=args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = write_sources(folder / "corpus", PLANNED, records=2000, eval_records=64)
        warm = one_by_one(manifest, folder, settings)
        print(f"proxies per hour one by one ({args.model}, {args.steps} steps): {3600 / warm:.0f}")
        for k in (int(v) for v in args.side_by_side.split(",") if v):
            rate = 3600 * k / group_time(manifest, folder, settings, k)
            print(
                f"proxies per hour side by side, K={k}: {rate:.0f}, "
                f"{rate * warm / 3600:.2f}x one by one"
            )
        fits = fit_time(settings, args.fit_proxies)
        print(
            f"fits + search over {args.fit_proxies} proxies: {fits:.1f} s ({fits / warm:.2f} proxies' time)"
        )


if __name__ == "__main__":
    main()
