"""One process of a multi-process training run on localhost (spawned by the tests).

    python tests/trainer/multiprocess_worker.py MANIFEST CKPT OVERRIDES_JSON
        [--resume] [--slow] [--compose N]

The process reads POLYMIX_COORDINATOR / POLYMIX_PROCESS_ID / POLYMIX_NUM_PROCESSES like
`polymix train` does. `--slow` sleeps 0.3 s per step so a test can signal mid-run.
`--compose N` (one process) trains on what N processes would feed: each global batch
is the rows of the loaders of blocks 0..N-1, concatenated in that order.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from polymix.trainer.config import TrainConfig, apply_overrides  # noqa: E402
from polymix.trainer.loop import train  # noqa: E402


def composed(cfg: TrainConfig, manifest: str, n: int):
    from polymix.core.manifest import load_manifest
    from polymix.trainer.run import loader_for

    seq_len = cfg.seq_len or load_manifest(manifest).max_seq_len
    model_cfg = cfg.resolved_model()
    loaders = [loader_for(cfg, model_cfg, seq_len, Path(manifest), i, n) for i in range(n)]

    def hook(step, batch):
        parts = [next(loader) for loader in loaders]
        return {k: np.concatenate([p[k] for p in parts]) for k in batch}

    return hook


def main() -> int:
    manifest, ckpt, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    cfg = apply_overrides(TrainConfig(), overrides)
    hook = None
    if "--compose" in sys.argv:
        hook = composed(cfg, manifest, int(sys.argv[sys.argv.index("--compose") + 1]))
    if "--slow" in sys.argv:

        def hook(step, batch):
            time.sleep(0.3)
            return batch

    result = train(cfg, manifest, ckpt, resume="--resume" in sys.argv, batch_hook=hook)
    print("RESULT " + json.dumps({"final": result.final_step, "ckpt": result.checkpoint_step}))
    return 128 + signal.Signals[result.stopped_by] if result.stopped_by else 0


if __name__ == "__main__":
    sys.exit(main())
