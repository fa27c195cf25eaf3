"""Several hosts, one run: `jax.distributed`, each process's rows, agreed stops.

`ensure_distributed` starts JAX's distributed runtime before anything touches a
device. Where the settings come from, first match wins:

1. explicit values (`polymix train --coordinator HOST:PORT --process-id I
   --num-processes N`);
2. the environment: `POLYMIX_COORDINATOR`, `POLYMIX_PROCESS_ID`, `POLYMIX_NUM_PROCESSES`;
3. a cluster JAX recognizes by itself (Cloud TPU pods and GKE, SLURM, Open MPI,
   Kubernetes): `jax.distributed.initialize()` with no arguments, as on TPU pods;
4. none of these: one process, nothing to start.

On CPU the processes talk through gloo (`jax_cpu_collectives_implementation`), which
is how the multi-process tests run on one machine.

A process feeds the rows of the global batch its devices hold (`process_rows`),
whatever the mesh: processes that hold the same rows (a `model` axis spanning hosts)
read the same data. Stops are agreed: every step carries each process's "stop
requested" flag into the jitted step, which takes their maximum, so all processes
learn of a SIGTERM on any one of them at the same step and save that same step.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from polymix.core.errors import UserFacingError

_ENV = ("POLYMIX_COORDINATOR", "POLYMIX_PROCESS_ID", "POLYMIX_NUM_PROCESSES")


class DistributedError(UserFacingError):
    """Incomplete or inconsistent multi-process settings."""


def _cluster_detected() -> bool:
    from jax._src.clusters import ClusterEnv

    return any(
        env.is_env_present() for env in ClusterEnv._cluster_types if not env.opt_in_only_method
    )


def _settings(
    coordinator: str | None, process_id: int | None, num_processes: int | None
) -> tuple[str, int, int] | None:
    given = (coordinator, process_id, num_processes)
    if all(v is None for v in given):
        env = [os.environ.get(name) for name in _ENV]
        if all(v is None for v in env):
            return None
        if any(v is None for v in env):
            missing = [name for name, v in zip(_ENV, env, strict=True) if v is None]
            raise DistributedError(
                f"multi-process environment incomplete: set {', '.join(missing)}"
            )
        coordinator, process_id, num_processes = env[0], int(env[1]), int(env[2])  # type: ignore[arg-type]
    if coordinator is None or process_id is None or num_processes is None:
        raise DistributedError(
            "--coordinator, --process-id and --num-processes go together (all three or none)"
        )
    if not 0 <= process_id < num_processes:
        raise DistributedError(f"--process-id {process_id} is not in [0, {num_processes})")
    return coordinator, process_id, num_processes


def ensure_distributed(
    coordinator: str | None = None,
    process_id: int | None = None,
    num_processes: int | None = None,
) -> int:
    """Start `jax.distributed` if this is one process of several; returns the process count.

    Idempotent: a second call (or a runtime started by the caller) changes nothing.
    """
    import jax
    from jax._src import distributed

    if distributed.global_state.client is not None:
        return jax.process_count()
    settings = _settings(coordinator, process_id, num_processes)
    if settings is None and not _cluster_detected():
        return 1
    if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in os.environ:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if settings is None:
        jax.distributed.initialize()
    else:
        address, pid, count = settings
        jax.distributed.initialize(address, num_processes=count, process_id=pid)
    return jax.process_count()


def barrier(name: str, timeout_s: float = 1800.0) -> None:
    """Wait until every process gets here (a no-op for one process).

    The coordination service's barrier, not a collective: processes may arrive minutes
    apart (hashing shards, compiling), while gloo gives up on a peer after 30 s. Called
    before the first collective of each phase, it keeps that wait out of the collectives.
    """
    from jax._src import distributed

    client = distributed.global_state.client
    if client is not None:
        client.wait_at_barrier(f"polymix:{name}", int(timeout_s * 1000))


def process_rows(sharding: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """[start, stop) of the rows (dimension 0) this process's devices hold.

    They are contiguous and equally many on every process for the meshes
    `model.sharding.make_mesh` builds; anything else is refused rather than fed wrong.
    """
    rows = shape[0]
    spans = set()
    for index in sharding.addressable_devices_indices_map(shape).values():
        first = index[0]
        spans.add((first.start or 0, rows if first.stop is None else first.stop))
    start, stop = min(s for s, _ in spans), max(e for _, e in spans)
    covered = sum(e - s for s, e in sorted(spans))
    if covered != stop - start or rows % (stop - start):
        raise DistributedError(
            f"this process's devices hold rows {sorted(spans)} of {rows}: not one even block"
        )
    return start, stop


def data_shard(sharding: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """(index, count) of this process's block of rows: what its loader reads."""
    start, stop = process_rows(sharding, shape)
    return start // (stop - start), shape[0] // (stop - start)


def stop_flags(mesh: Any, requested: bool) -> Any:
    """A [devices] global array of this process's flag on each of its devices."""
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    sharding = NamedSharding(mesh, P(tuple(mesh.axis_names)))

    def shard(index: tuple[slice, ...]) -> np.ndarray:
        return np.full((len(range(*index[0].indices(mesh.size))),), requested, dtype=np.int32)

    return jax.make_array_from_callback((mesh.size,), sharding, shard)
