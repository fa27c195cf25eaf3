"""`profile_steps=a:b`: a JAX profiler trace of those steps, for TensorBoard's profile tab.

The trace lands in `CKPT/tensorboard/plugins/profile/<run>/`, next to the scalar events,
so one `tensorboard --logdir CKPT/tensorboard` shows both. Each step is annotated
(`StepTraceAnnotation`), and the model's `jax.named_scope`s (attention, router,
moe_dispatch, experts, moe_combine, mlp, loss) name the ops inside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class ProfileWindow:
    """Starts the trace before the window's first step and stops it after its last."""

    def __init__(self, window: tuple[int, int] | None, directory: Path):
        self.window = window
        self.directory = directory
        self.active = False

    @contextlib.contextmanager
    def step(self, number: int) -> Iterator[None]:
        """Around step `number` (1-based): trace it if it is in the window."""
        import jax

        if self.window is not None and number == self.window[0] and not self.active:
            self.directory.mkdir(parents=True, exist_ok=True)
            jax.profiler.start_trace(str(self.directory))
            self.active = True
        try:
            if self.active:
                with jax.profiler.StepTraceAnnotation("train", step_num=number):
                    yield
            else:
                yield
        finally:
            if self.active and self.window is not None and number >= self.window[1]:
                self.close()

    def close(self) -> None:
        if self.active:
            import jax

            jax.profiler.stop_trace()
            self.active = False
