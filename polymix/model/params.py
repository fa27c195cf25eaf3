"""Parameters as plain pytrees, described once by `ParamInfo` leaves.

One description tree gives the initializer, the logical axes (hence the sharding) and
the shapes for counting, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.sharding import ShardingRules


@dataclass(frozen=True)
class ParamInfo:
    """Shape, logical axes and initializer of one parameter (a pytree leaf)."""

    shape: tuple[int, ...]
    axes: tuple[str | None, ...]
    init: str = "normal"  # normal | zeros | ones
    std: float = 0.02

    def __post_init__(self) -> None:
        if len(self.shape) != len(self.axes):
            raise ValueError(f"shape {self.shape} and axes {self.axes} differ in rank")

    def stacked(self, n: int) -> ParamInfo:
        """The same parameter repeated for `n` scanned layers."""
        return ParamInfo((n, *self.shape), ("layers", *self.axes), self.init, self.std)


def is_info(x: Any) -> bool:
    return isinstance(x, ParamInfo)


def stack(tree: Any, n: int) -> Any:
    return jax.tree.map(lambda p: p.stacked(n), tree, is_leaf=is_info)


def _materialize(info: ParamInfo, key: jax.Array, dtype: jnp.dtype) -> jax.Array:
    if info.init == "zeros":
        return jnp.zeros(info.shape, dtype)
    if info.init == "ones":
        return jnp.ones(info.shape, dtype)
    return (info.std * jax.random.truncated_normal(key, -2.0, 2.0, info.shape)).astype(dtype)


def init_from_info(tree: Any, key: jax.Array, dtype: Any = jnp.float32) -> Any:
    """Materialize every leaf; each gets its own key folded from its position."""
    leaves, treedef = jax.tree.flatten(tree, is_leaf=is_info)
    keys = [jax.random.fold_in(key, i) for i in range(len(leaves))]
    return jax.tree.unflatten(
        treedef, [_materialize(p, k, dtype) for p, k in zip(leaves, keys, strict=True)]
    )


def axes_of(tree: Any) -> Any:
    return jax.tree.map(lambda p: p.axes, tree, is_leaf=is_info)


def shardings_of(tree: Any, rules: ShardingRules) -> Any:
    return jax.tree.map(lambda p: rules.sharding(p.axes, p.shape), tree, is_leaf=is_info)


def make_init(tree: Any, dtype: Any, rules: ShardingRules) -> Callable[[jax.Array], Any]:
    """A jitted init whose outputs are born sharded: no host ever holds the full model."""

    def fn(key: jax.Array) -> Any:
        return init_from_info(tree, key, dtype)

    if rules.mesh is None:
        return jax.jit(fn)
    return jax.jit(fn, out_shardings=shardings_of(tree, rules))
