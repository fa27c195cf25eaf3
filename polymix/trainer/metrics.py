"""Where per-step numbers go: `metrics.jsonl`, TensorBoard events, a progress bar, a PNG.

`metrics.jsonl` is the record of the run: one JSON object per step, appended across
resumes. A step after which the run evaluated carries the held-out numbers on its own
line (`eval/<source>/loss`, `eval/<modality>/loss`: `trainer.evaluation`), so the last
line holding `eval/...` keys is the run's final evaluation. Lines for steps after the checkpoint a run resumes from are dropped first
(they were trained again), so the file always reads as one history without repeats.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "loss.png"
# Keys drawn on the progress bar, in order.
_BAR_KEYS = ("loss", "lr", "grad_norm", "tokens_per_s", "mfu")
EVAL_PREFIX = "eval/"


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf; keep them readable as strings rather than failing the run."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def read_metrics(directory: str | Path) -> list[dict[str, Any]]:
    path = Path(directory) / METRICS_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tag(key: str) -> str:
    """TensorBoard's name for a metric: held-out numbers keep theirs (`eval/web/loss`)."""
    return key if key.startswith(EVAL_PREFIX) else f"train/{key}"


def eval_loss_keys(records: list[dict[str, Any]]) -> list[str]:
    """Every `eval/<name>/loss` key in `records`, sorted."""
    keys = {k for r in records for k in r if k.startswith(EVAL_PREFIX) and k.endswith("/loss")}
    return sorted(keys)


class MetricsLog:
    """Append-only JSONL + TensorBoard + tqdm; `close()` flushes all three."""

    def __init__(
        self,
        directory: str | Path,
        *,
        start_step: int,
        total_steps: int,
        progress: bool = True,
        tensorboard: bool = True,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / METRICS_NAME
        kept = [r for r in read_metrics(self.directory) if r.get("step", 0) <= start_step]
        self.path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
        self._file = self.path.open("a")
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            # A resumed run re-trains the steps after its checkpoint: hide their old events.
            purge = start_step + 1 if start_step else None
            self._tb = SummaryWriter(str(self.directory / "tensorboard"), purge_step=purge)
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_steps,
                initial=start_step,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
            )

    def write(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()
        step = int(record["step"])
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(_tag(key), value, step)
        if self._bar is not None:
            shown = {k: record[k] for k in _BAR_KEYS if k in record}
            self._bar.set_postfix(
                {k: f"{v:.3g}" if isinstance(v, float) else v for k, v in shown.items()},
                refresh=False,
            )
            self._bar.update(step - self._bar.n)

    def message(self, text: str) -> None:
        """A line that does not break the progress bar."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._bar is not None:
            self._bar.close()


def plot_loss(directory: str | Path) -> Path | None:
    """`loss.png` from the whole `metrics.jsonl` (every resume included): the training
    loss and, marked at the steps evaluated, every held-out loss beside it."""
    records = [r for r in read_metrics(directory) if isinstance(r.get("loss"), int | float)]
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, [r["loss"] for r in records], label="loss", lw=1)
    if all("ce_loss" in r for r in records):
        ax.plot(steps, [r["ce_loss"] for r in records], label="text cross-entropy", lw=1)
    for key in eval_loss_keys(records):
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), int | float)]
        ax.plot(*zip(*points, strict=True), marker="o", ms=3, lw=1, ls="--", label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    if any("lr" in r for r in records):
        lr_ax = ax.twinx()
        lr_ax.plot(steps, [r.get("lr", float("nan")) for r in records], color="gray", ls=":")
        lr_ax.set_ylabel("learning rate", color="gray")
    fig.tight_layout()
    out = Path(directory) / PLOT_NAME
    fig.savefig(out)
    plt.close(fig)
    return out
