"""Proxies side by side learn what each learns alone, and a killed sweep resumes by groups.

The reference is the sequential path itself: `runner.train_proxy`, the in-process
`polymix train` of each proxy. Side by side, the same three proxies run as one vmapped
step (`side_by_side.train_group`); every per-step training loss and every held-out loss
must agree with the sequential run's to `RTOL`.

Why `RTOL = 1e-5`: both paths run the same float32 maths on the same batches and the
same initial state; vmap may only change the order of reductions inside its batched
kernels. Reordering a float32 sum of n terms moves it by at most about n * 2^-24 of
the terms' magnitude (n * 6e-8, worst case; ~sqrt(n) * 6e-8 typically); the widest
reductions behind a loss here are a batch's 4 x 32 = 128 positions and a 64- or
128-wide matmul, so a worst case of ~8e-6 and a typical one near 1e-6, over three
steps of a learning rate still warming up. Measured on CPU, training losses agree to
the bit and held-out losses to ~5e-8 relative. The mixtures' losses differ by far more
than the tolerance (`test_the_proxies_differ_by_far_more_than_the_tolerance`), so a
proxy fed another's batches, or sharing another's state, fails the comparison.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from polymix.ablation.runner import proxy_folder, proxy_overrides, read_result, train_proxy
from polymix.ablation.sampling import manifest_plan, planned_weights, sample_mixture, share_caps
from polymix.ablation.settings import AblationError, AblationSettings
from polymix.ablation.side_by_side import GroupResult, check_group, train_group
from polymix.ablation.sweep import run_ablation
from polymix.core.manifest import load_manifest
from polymix.trainer.config import TrainConfig, apply_overrides
from polymix.trainer.metrics import read_metrics
from tests.ablation.corpus import write_sources

PLANNED = {"counting": 0.25, "noise": 0.75}
SOURCES = sorted(PLANNED)
RTOL = 1e-5
K = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("side-by-side")


@pytest.fixture(scope="module")
def manifest(folder: Path) -> Path:
    return write_sources(folder / "corpus", PLANNED, records=40, eval_records=8)


@pytest.fixture(scope="module")
def settings(folder: Path) -> AblationSettings:
    """A tiny sweep; one XLA cache for every run here, so each program compiles once."""
    return AblationSettings(
        proxies=6,
        steps=3,
        batch_size=4,
        eval_batches=2,
        folds=2,
        candidates=200,
        side_by_side=K,
        train_overrides=(f"compilation_cache={folder / 'xla-cache'}",),
    )


@pytest.fixture(scope="module")
def mixtures(manifest: Path, settings: AblationSettings) -> list[dict[str, float]]:
    """The sweep's first K mixtures, drawn as `run_ablation` draws them."""
    plan = manifest_plan(load_manifest(manifest))
    planned, caps = planned_weights(plan), share_caps(plan)
    return [
        sample_mixture(i, settings.seed, planned, caps, settings.concentration) for i in range(K)
    ]


def overrides(settings: AblationSettings, mixtures: list[dict[str, float]], folder: Path):
    return [proxy_overrides(settings, m, folder / "xla-cache") for m in mixtures]


@pytest.fixture(scope="module")
def sequential(manifest, settings, mixtures, folder) -> list[tuple[list[float], dict]]:
    """Per proxy, trained alone: (training loss of each step, final held-out losses)."""
    out = []
    for i, o in enumerate(overrides(settings, mixtures, folder)):
        held_out = train_proxy(manifest, o, folder / f"alone-{i}", SOURCES)
        steps = [r["loss"] for r in read_metrics(folder / f"alone-{i}" / "run") if "loss" in r]
        out.append((steps, held_out))
    return out


@pytest.fixture(scope="module")
def together(manifest, settings, mixtures, folder) -> GroupResult:
    return train_group(manifest, overrides(settings, mixtures, folder), say=lambda _: None)


@pytest.mark.slow  # compiles the trainer's step, alone and vmapped
def test_side_by_side_proxies_match_their_sequential_runs(sequential, together) -> None:
    assert len(together.losses) == K and not together.stopped_by
    for i, (steps, held_out) in enumerate(sequential):
        assert len(steps) == 3
        np.testing.assert_allclose(together.losses[i], steps, rtol=RTOL, err_msg=f"proxy {i}")
        mine = {s: together.evaluations[i][f"eval/{s}/loss"] for s in SOURCES}
        for source in SOURCES:
            assert mine[source] == pytest.approx(held_out[source], rel=RTOL), (i, source)


@pytest.mark.slow  # compiles the trainer's step, alone and vmapped
def test_the_proxies_differ_by_far_more_than_the_tolerance(sequential) -> None:
    """Else a mixed-up batch or a shared state could pass the comparison above."""
    for a in range(K):
        for b in range(a + 1, K):
            steps_a, steps_b = np.array(sequential[a][0]), np.array(sequential[b][0])
            assert np.max(np.abs(steps_a - steps_b) / np.abs(steps_a)) > 10 * RTOL, (a, b)
            gaps = [
                abs(sequential[a][1][s] - sequential[b][1][s]) / sequential[a][1][s]
                for s in SOURCES
            ]
            assert max(gaps) > 10 * RTOL, (a, b)


class Killed(Exception):
    pass


@pytest.mark.slow  # compiles the trainer's step, alone and vmapped
def test_a_side_by_side_sweep_killed_after_one_group_resumes_the_rest(
    manifest, settings, sequential, tmp_path
) -> None:
    def kill_at_the_second_group(line: str) -> None:
        if line.startswith("proxies 4-6"):
            raise Killed(line)

    with pytest.raises(Killed):
        run_ablation(manifest, tmp_path, settings, say=kill_at_the_second_group)
    first = [read_result(proxy_folder(tmp_path, i)) for i in range(K)]
    assert [read_result(proxy_folder(tmp_path, i)) for i in range(K, 6)] == [None] * 3
    for i, done in enumerate(first):  # the sequential path's record, with its losses
        assert set(done) == {"index", "mixture", "losses"} and done["index"] == i
        for source in SOURCES:
            assert done["losses"][source] == pytest.approx(sequential[i][1][source], rel=RTOL)
    stamps = [(proxy_folder(tmp_path, i) / "result.json").stat().st_mtime_ns for i in range(K)]
    said: list[str] = []
    result = run_ablation(manifest, tmp_path, settings, say=said.append)
    assert said == ["proxies 4-6/6 side by side"]  # the finished group was not trained again
    assert stamps == [
        (proxy_folder(tmp_path, i) / "result.json").stat().st_mtime_ns for i in range(K)
    ]
    assert [p.index for p in result.proxies] == list(range(6))


def test_a_group_must_differ_only_in_mixture_and_seed() -> None:
    """One compiled step serves the group: a proxy with other steps cannot join it."""
    base = ["model=tiny", "steps=10"]
    same = [
        apply_overrides(TrainConfig(), [*base, f"mixture=a={w}", f"seed={s}"])
        for w, s in ((1, 0), (2, 3))
    ]
    check_group(same)
    with pytest.raises(AblationError, match="must differ only in mixture and seed"):
        check_group([*same, apply_overrides(TrainConfig(), ["model=tiny", "steps=11"])])


@pytest.mark.slow  # compiles the trainer's step, alone and vmapped
def test_a_signal_stops_a_group_before_it_writes_anything(manifest, settings, tmp_path) -> None:
    """SIGTERM during a group: the sweep returns None and no proxy of the group is written."""
    before = signal.getsignal(signal.SIGTERM)

    def terminate_in_the_first_group(line: str) -> None:
        if line.startswith("proxies 1-3"):
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the sweep's handler, not fatal

    assert run_ablation(manifest, tmp_path, settings, say=terminate_in_the_first_group) is None
    assert [read_result(proxy_folder(tmp_path, i)) for i in range(6)] == [None] * 6
    assert signal.getsignal(signal.SIGTERM) == before  # the previous handler is back


def test_the_flag_reaches_the_sweep(monkeypatch, tmp_path) -> None:
    import polymix.ablation.sweep as sweep
    from polymix.cli import main

    seen: list[AblationSettings] = []

    def stand_in(manifest: str, output: str, settings: AblationSettings) -> None:
        seen.append(settings)  # and None: "stopped"

    monkeypatch.setattr(sweep, "run_ablation", stand_in)
    argv = ["ablate", "--manifest", str(tmp_path / "m.json"), "--output", str(tmp_path / "o")]
    assert main([*argv, "--side-by-side", "4"]) == 130  # the stand-in "stopped" the sweep
    assert seen[0].side_by_side == 4
