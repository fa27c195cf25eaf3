"""Logical axes -> mesh axes: the one table that decides how the model is split.

Code names array dimensions by what they mean ("heads", "experts"); the `ShardingRules`
table maps each meaning to mesh axes. Changing the parallelism layout is editing this
table, never the layers. A dimension that a mesh axis does not divide stays whole
(replicated), so the same model runs on any mesh shape.

Mesh axes: `data` and `fsdp` split the batch (fsdp also splits every weight's embed
dimension), `context` splits the sequence (attention gathers keys and values over it),
`model` splits heads and hidden widths, `expert` splits the experts and, outside the
MoE block, carries more of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

MESH_AXES = ("data", "fsdp", "context", "model", "expert")

MeshAxes = str | tuple[str, ...] | None

DEFAULT_RULES: dict[str, MeshAxes] = {
    # Activations outside the MoE block: the expert axis holds more data parallelism.
    "batch": ("data", "fsdp", "expert"),
    "act_seq": "context",
    "act_embed": None,
    "act_heads": "model",
    "act_kv_heads": "model",
    "act_mlp": "model",
    "act_vocab": "model",
    # Capacity groups are device-local slices of rows: [batch x context] before dispatch;
    # after it, groups stay on data, fsdp and context while experts move to `expert`.
    "moe_groups": ("data", "fsdp", "expert", "context"),
    "group": ("data", "fsdp", "context"),
    "act_experts": "expert",
    # Parameters.
    "layers": None,
    "embed": "fsdp",
    "vocab": "model",
    "heads": "model",
    "kv_heads": "model",
    "head_dim": None,
    "mlp": "model",
    "experts": "expert",
    "expert_mlp": "model",
    "media_in": None,
    "position": None,
    "modality": None,
    "norm": None,
    "router_experts": None,
}


@dataclass(frozen=True)
class ShardingRules:
    """The logical-to-mesh table plus the mesh it applies to."""

    mesh: Mesh | None = None
    rules: dict[str, MeshAxes] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def spec(self, logical: Sequence[str | None], shape: Sequence[int] | None = None) -> P:
        """PartitionSpec for dimensions named `logical`; axes that do not divide are dropped."""
        used: set[str] = set()
        out: list[MeshAxes] = []
        for i, name in enumerate(logical):
            if name and name not in self.rules:
                raise KeyError(f"logical axis {name!r} is not in the sharding table")
            axes = self.rules[name] if name else None
            if axes is None:
                out.append(None)
                continue
            axes = (axes,) if isinstance(axes, str) else tuple(axes)
            kept: list[str] = []
            size = shape[i] if shape is not None else None
            for ax in axes:
                if ax in used or (self.mesh is not None and ax not in self.mesh.shape):
                    continue
                n = self.mesh.shape[ax] if self.mesh is not None else 1
                if n == 1:
                    continue
                if size is not None:
                    if size % n:
                        continue
                    size //= n
                kept.append(ax)
                used.add(ax)
            out.append(None if not kept else kept[0] if len(kept) == 1 else tuple(kept))
        while out and out[-1] is None:  # canonical form: P("x") rather than P("x", None)
            out.pop()
        return P(*out)

    def sharding(self, logical: Sequence[str | None], shape: Sequence[int]) -> NamedSharding:
        if self.mesh is None:
            raise ValueError("no mesh: single-device rules have no sharding")
        return NamedSharding(self.mesh, self.spec(logical, shape))

    def axis_size(self, axis: str) -> int:
        """Devices along one mesh axis (1 without a mesh)."""
        if self.mesh is None:
            return 1
        return int(self.mesh.shape.get(axis, 1))

    def splits(self, logical: str, size: int, axis: str) -> bool:
        """Whether a dimension named `logical` of `size` is split over mesh `axis`."""
        entry = self.spec((logical,), (size,))
        first = entry[0] if len(entry) else None
        return axis in ((first,) if isinstance(first, str) else tuple(first or ()))

    def constrain(self, x: jax.Array, *logical: str | None) -> jax.Array:
        """Pin an activation's layout at a layer boundary; a no-op without a mesh."""
        if self.mesh is None:
            return x
        if len(logical) != x.ndim:
            raise ValueError(f"{len(logical)} logical axes for a rank-{x.ndim} array")
        return jax.lax.with_sharding_constraint(x, self.sharding(logical, x.shape))


def full_mesh_shape(shape: Sequence[int]) -> tuple[int, int, int, int, int]:
    """(data, model, expert), (data, fsdp, model, expert) or all five axes -> all five.

    The short forms leave out the axes most runs do not use (size 1).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return (shape[0], 1, 1, shape[1], shape[2])
    if len(shape) == 4:
        return (shape[0], shape[1], 1, shape[2], shape[3])
    if len(shape) == 5:
        return shape  # type: ignore[return-value]
    raise ValueError(f"mesh shape must have 3, 4 or 5 axes, got {shape}")


def make_mesh(shape: Sequence[int], devices: Sequence[jax.Device] | None = None) -> Mesh:
    """Mesh over `MESH_AXES` from a 3-, 4- or 5-axis shape (see `full_mesh_shape`)."""
    shape = full_mesh_shape(shape)
    devices = list(devices if devices is not None else jax.devices())
    need = int(np.prod(shape))
    if need > len(devices):
        raise ValueError(f"mesh {shape} needs {need} devices, have {len(devices)}")
    grid = np.array(devices[:need]).reshape(shape)
    return Mesh(grid, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * len(MESH_AXES))


NO_SHARDING = ShardingRules()
