"""`TrainConfig`: every knob of a training run in one frozen pydantic model, set by `key=value`.

Defaults are the reference recipe (decoupled AdamW, peak 2e-4, 2000 warm-up steps,
cosine, clip at 1.0), so a run that overrides nothing trains the way the reference
model was trained. Model fields are overridden with a `model.` prefix
(`model.n_layers=2`) and validated by `model.config.get_config`. Checkpoints record the
config as JSON (`to_dict`); `from_dict` reads one back, dropping keys this version lacks.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import field_validator, model_validator

from polymix.core.errors import UserFacingError
from polymix.core.frozen_config import FrozenConfig, known_fields, unknown_key_message
from polymix.core.overrides import parse_value, split_override

WEIGHT_DECAY_MODES = ("decoupled", "coupled")


class ConfigError(UserFacingError, ValueError):
    """A bad key or value; the message names the key."""


class TrainConfig(FrozenConfig):
    """One training run. Keys may change on `--resume` only if listed in `RESUMABLE`."""

    error = ConfigError
    unknown_key = ConfigError

    model: str = "demo"  # model preset (`polymix model-info --model NAME` shows one)
    model_overrides: tuple[str, ...] = ()  # "key=value" strings for model.config.get_config
    steps: int = 100  # train until this global step
    seq_len: int = 0  # 0: the manifest's max_seq_len
    global_batch_size: int = 8  # sequences per optimizer step, over all processes
    seed: int = 0  # parameter initialization and the loader's shuffle
    # "auto" (all devices on data), "data,model,expert", "data,fsdp,model,expert" or
    # "data,fsdp,context,model,expert"
    mesh: str = "auto"
    grad_accum: int = 1  # microbatches per step (gradient accumulation); same update
    # Optimizer: optax clip -> adam -> schedule -> weight decay.
    peak_lr: float = 2e-4  # learning rate at the end of warm-up
    warmup_steps: int = 2000  # linear ramp from 0 to peak_lr
    # Length of warm-up + cosine; 0: `steps` of the run's first start. Part of the run's
    # identity: a resume keeps it (a longer --steps then trains on at the floor rate).
    decay_steps: int = 0
    lr_floor_ratio: float = 0.1  # cosine ends at peak_lr * lr_floor_ratio
    b1: float = 0.9  # Adam's first-moment decay
    b2: float = 0.95  # Adam's second-moment decay
    eps: float = 1e-8  # Adam's denominator guard
    clip_norm: float = 1.0  # gradients clipped to this global L2 norm
    # decoupled: p -= weight_decay * (lr_t / peak_lr) * p  (2e-5 = optax's 0.1 at lr 2e-4)
    # coupled:   p -= lr_t * weight_decay * p              (optax.adamw's convention)
    weight_decay: float = 2e-5
    weight_decay_mode: str = "decoupled"  # how weight_decay applies: decoupled or coupled
    decay_norms_and_biases: bool = False  # weight decay on norm scales and biases too
    decay_embeddings: bool = False  # weight decay on the token embeddings too
    # Failure handling.
    max_bad_steps: int = 10  # consecutive non-finite steps before the run stops
    # Checkpoints.
    checkpoint_every: int = 100  # save a checkpoint every this many steps
    keep_checkpoints: int = 3  # newest checkpoints kept; older ones are deleted
    # Loader. verify=full hashes every shard before training; lazy checks sizes up front
    # and each shard's sha256 when the loader first opens it (for corpora too big to hash).
    verify: str = "full"  # full: hash every shard first; lazy: each one when first opened
    loader_workers: int = 0  # grain worker processes per host; 0 reads in this process
    loader_threads: int = 4  # grain read threads per worker
    # "name=weight,name=weight": position shares per source instead of the manifest's
    # plan; weights are normalised to shares (`mixture_weights`) and sources left out are
    # not drawn. Stored sorted by name, each weight as Python writes the float. Part of
    # the run's identity: a resume must name the same mixture, so the checkpoints and
    # metrics of one folder always belong to one mixture.
    mixture: str = ""  # name=weight,... position shares instead of the manifest's plan
    # Held-out evaluation: every `eval_every` steps (0: only at the end) on `eval_batches`
    # fixed batches of each source's eval shards (`trainer.evaluation`); eval_batches=0
    # turns it off. `eval_batches` fixes the eval set, so it is part of the run's
    # identity; `eval_every` is not (it never changes what is trained).
    eval_every: int = 0  # steps between held-out evaluations; 0: only at the end
    eval_batches: int = 4  # fixed held-out batches per source; 0: no evaluation
    # Reporting.
    peak_tflops: float = 0.0  # per device; 0: from the chip table, else measured matmul
    progress: bool = True  # a progress bar on the terminal while training
    plot: bool = True  # draw CKPT/loss.png when the run ends
    compilation_cache: str = ""  # a folder for XLA's persistent cache: resumes skip compiling
    # "a:b": a JAX profiler trace of steps a..b (1-based) into CKPT/tensorboard (TensorBoard's
    # profile tab); named scopes mark attention, router, MoE dispatch/combine, experts, loss.
    profile_steps: str = ""

    @field_validator("mixture")
    @classmethod
    def _canonical_mixture(cls, text: str) -> str:
        return canonical_mixture(text)

    @model_validator(mode="after")
    def _in_range(self) -> TrainConfig:
        checks = {
            "steps": self.steps >= 0,
            "seq_len": self.seq_len >= 0,
            "global_batch_size": self.global_batch_size > 0,
            "grad_accum": self.grad_accum > 0,
            "peak_lr": self.peak_lr > 0,
            "warmup_steps": self.warmup_steps >= 0,
            "decay_steps": self.decay_steps >= 0,
            "lr_floor_ratio": 0 <= self.lr_floor_ratio <= 1,
            "b1": 0 <= self.b1 < 1,
            "b2": 0 <= self.b2 < 1,
            "clip_norm": self.clip_norm > 0,
            "weight_decay": self.weight_decay >= 0,
            "weight_decay_mode": self.weight_decay_mode in WEIGHT_DECAY_MODES,
            "verify": self.verify in ("full", "lazy"),
            "max_bad_steps": self.max_bad_steps > 0,
            "checkpoint_every": self.checkpoint_every > 0,
            "keep_checkpoints": self.keep_checkpoints > 0,
            "loader_workers": self.loader_workers >= 0,
            "peak_tflops": self.peak_tflops >= 0,
            "eval_every": self.eval_every >= 0,
            "eval_batches": self.eval_batches >= 0,
        }
        bad = [key for key, ok in checks.items() if not ok]
        if bad:
            key = bad[0]
            choices = {"weight_decay_mode": WEIGHT_DECAY_MODES, "verify": ("full", "lazy")}
            hint = f" (one of {choices[key]})" if key in choices else ""
            raise ConfigError(f"{key}={getattr(self, key)!r} is out of range{hint}")
        if self.eval_every and not self.eval_batches:
            raise ConfigError(f"eval_every={self.eval_every} needs eval_batches > 0 (0: no eval)")
        self.mesh_shape(1)  # validates the text
        self.profile_window()
        return self

    @property
    def total_decay_steps(self) -> int:
        return self.decay_steps or self.steps

    def warnings(self) -> list[str]:
        """Legal but probably unintended settings, printed when the run starts."""
        out = []
        if self.total_decay_steps <= self.warmup_steps:
            out.append(
                f"warmup_steps={self.warmup_steps} >= decay_steps={self.total_decay_steps}: the "
                f"learning rate only ramps up and never reaches peak_lr={self.peak_lr}"
            )
        return out

    def mesh_shape(self, n_devices: int) -> tuple[int, int, int, int, int]:
        """(data, fsdp, context, model, expert); "auto" puts every device on data."""
        if self.mesh == "auto":
            return (n_devices, 1, 1, 1, 1)
        try:
            sizes = tuple(int(s) for s in self.mesh.replace("x", ",").split(","))
        except ValueError:
            sizes = ()
        if len(sizes) not in (3, 4, 5) or min(sizes) < 1:
            raise ConfigError(
                f"mesh={self.mesh!r}: want 'auto', 'data,model,expert', "
                "'data,fsdp,model,expert' or 'data,fsdp,context,model,expert' with positive sizes"
            )
        if len(sizes) == 3:
            sizes = (sizes[0], 1, 1, sizes[1], sizes[2])
        elif len(sizes) == 4:
            sizes = (sizes[0], sizes[1], 1, sizes[2], sizes[3])
        return sizes  # type: ignore[return-value]

    def mixture_weights(self) -> dict[str, float] | None:
        """The `mixture` override as {source: share} (shares sum to 1), or None."""
        if not self.mixture:
            return None
        weights = parse_mixture(self.mixture)
        total = sum(weights.values())
        return {name: w / total for name, w in weights.items()}

    def profile_window(self) -> tuple[int, int] | None:
        """(first, last) step of `profile_steps` ("a:b" or "a"), or None."""
        if not self.profile_steps:
            return None
        parts = self.profile_steps.split(":")
        try:
            first, last = int(parts[0]), int(parts[-1])
        except ValueError:
            first, last = 0, -1
        if len(parts) > 2 or not 1 <= first <= last:
            raise ConfigError(
                f"profile_steps={self.profile_steps!r}: want 'a:b' with 1 <= a <= b (steps)"
            )
        return first, last

    def with_schedule_fixed(self) -> TrainConfig:
        """This config with `decay_steps` resolved, as the run's first start records it."""
        return self.replace(decay_steps=self.total_decay_steps)

    def resolved_model(self) -> Any:
        """The `model.config.ModelConfig` this run trains, overrides applied."""
        from polymix.model.config import get_config

        try:
            return get_config(self.model, list(self.model_overrides))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"model: {exc.args[0] if exc.args else exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """What a checkpoint records (JSON: `model_overrides` as a list)."""
        out = super().to_dict()
        out["model_overrides"] = list(self.model_overrides)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A recorded config; keys an older version had and this one lacks are dropped."""
        return cls(**known_fields(data, cls))


def _mixture_error(text: str, why: str) -> ConfigError:
    return ConfigError(f"mixture={text!r}: {why} (want 'name=weight,name=weight')")


def canonical_mixture(text: str) -> str:
    """`mixture` text -> sorted `name=weight` pairs, or a one-line error ("" stays "").

    Weights stay as given (not divided by their sum), so the text is a fixed point:
    reading a saved config back gives the same string the run was started with.
    """
    if not text.strip():
        return ""
    weights = parse_mixture(text)
    return ",".join(f"{name}={weights[name]!r}" for name in sorted(weights))


def parse_mixture(text: str) -> dict[str, float]:
    """`name=weight,...` -> {name: weight} as given, or a one-line error naming the bad pair."""
    weights: dict[str, float] = {}
    for pair in text.split(","):
        name, sep, value = (piece.strip() for piece in pair.partition("="))
        if not sep or not name:
            raise _mixture_error(text, f"{pair.strip()!r} is not name=weight")
        if name in weights:
            raise _mixture_error(text, f"source {name!r} is named twice")
        try:
            weights[name] = float(value)
        except ValueError:
            raise _mixture_error(text, f"weight {value!r} of {name!r} is not a number") from None
        if not math.isfinite(weights[name]) or weights[name] < 0:
            raise _mixture_error(text, f"weight {value!r} of {name!r} must be finite and >= 0")
    if sum(weights.values()) <= 0:
        raise _mixture_error(text, "no weight is positive")
    return weights


# Keys a resumed run may change without breaking bit-exact continuation.
RESUMABLE = frozenset(
    {
        "steps",
        "max_bad_steps",
        "checkpoint_every",
        "keep_checkpoints",
        "loader_workers",
        "loader_threads",
        "peak_tflops",
        "progress",
        "plot",
        "compilation_cache",
        "verify",
        "profile_steps",
        "eval_every",
    }
)


def apply_overrides(base: TrainConfig, overrides: list[str]) -> TrainConfig:
    """`key=value` strings onto a config; an unknown key is an error that names it."""
    fields = TrainConfig.field_names()
    changes: dict[str, Any] = {}
    model_overrides = list(base.model_overrides)
    for item in overrides:
        key, text = split_override(item)
        if key.startswith("model."):
            model_overrides.append(f"{key[len('model.') :]}={text}")
            continue
        if key not in fields or key == "model_overrides":
            message = unknown_key_message(key, fields, "key")
            raise ConfigError(f"{message} (model fields take a 'model.' prefix)")
        try:
            changes[key] = parse_value(text, getattr(base, key))
        except ValueError as exc:
            raise ConfigError(f"{key}={text!r}: {exc}") from exc
    changes["model_overrides"] = tuple(model_overrides)
    config = base.replace(**changes)
    config.resolved_model()  # surface bad model keys now, not after the loader starts
    return config


def resume_conflicts(saved: TrainConfig, now: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Keys that differ between the checkpointed run and this one and may not."""
    a, b = saved.to_dict(), now.to_dict()
    return {k: (a[k], b[k]) for k in a if k not in RESUMABLE and a[k] != b.get(k)}


__all__ = [
    "RESUMABLE",
    "ConfigError",
    "TrainConfig",
    "apply_overrides",
    "canonical_mixture",
    "resume_conflicts",
]
