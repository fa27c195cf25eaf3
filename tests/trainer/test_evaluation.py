"""Held-out evaluation in the trainer: fixed batches, per-source/modality losses, no effect
on training, bit-exact across resumes; and the `mixture` override."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jax
import numpy as np
import pytest

from polymix.core.manifest import load_manifest
from polymix.trainer.config import ConfigError, apply_overrides
from polymix.trainer.data.heldout import heldout_batches
from polymix.trainer.loop import train
from polymix.trainer.metrics import plot_loss, read_metrics
from polymix.trainer.preflight import PreflightError
from tests.trainer.eval_corpus import EvalCorpus, write_eval_corpus
from tests.trainer.train_corpus import share_compilation_cache, tiny_config, write_text_corpus

EVAL = ("eval_batches=2",)
WEB_DIGEST = "c28428f930d431d3"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> EvalCorpus:
    return write_eval_corpus(tmp_path_factory.mktemp("eval-corpus"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, corpus: EvalCorpus) -> dict:
    base = tmp_path_factory.mktemp("evaluation")
    share_compilation_cache()
    path = corpus.manifest_path
    every = train(tiny_config("eval_every=1", *EVAL), path, base / "every")
    off = train(tiny_config("eval_batches=0"), path, base / "off")
    # eval_every=0: only at the end (step 4); the resume may change it: 6, then the end.
    train(tiny_config("steps=4", "eval_every=0", *EVAL), path, base / "halves")
    train(tiny_config("eval_every=3", *EVAL), path, base / "halves", resume=True)
    return {"base": base, "corpus": corpus, "every": every, "off": off}


def _metrics(runs: dict, name: str) -> list[dict]:
    return read_metrics(runs["base"] / name)


def _evals(record: dict) -> dict:
    return {k: v for k, v in record.items() if k.startswith("eval/")}


def _train_part(record: dict) -> dict:
    timing = ("step_time_s", "tokens_per_s", "mfu", "hfu")
    return {k: v for k, v in record.items() if not k.startswith("eval/") and k not in timing}


def test_training_is_bit_identical_with_evaluation_on(runs: dict) -> None:
    every, off = _metrics(runs, "every"), _metrics(runs, "off")
    assert [_train_part(r) for r in every] == [_train_part(r) for r in off]  # exact floats
    assert runs["every"].losses == runs["off"].losses
    for a, b in zip(
        jax.tree.leaves(runs["every"].state["params"]),
        jax.tree.leaves(runs["off"].state["params"]),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not any(_evals(r) for r in off)  # eval_batches=0: no evaluation at all


def test_every_step_logs_per_source_and_per_modality_losses(runs: dict) -> None:
    every = _metrics(runs, "every")
    want = {f"eval/{n}/{k}" for n in ("web", "code", "text") for k in ("loss", "tokens")}
    assert [set(_evals(r)) for r in every] == [want] * 8  # books has no held-out shards
    first, last = every[0], every[-1]
    for name in ("web", "code", "text"):  # the same set every time: the same token counts
        assert {r[f"eval/{name}/tokens"] for r in every} == {first[f"eval/{name}/tokens"]}
    assert first["eval/text/tokens"] == first["eval/web/tokens"] + first["eval/code/tokens"]
    weighted = (
        last["eval/web/loss"] * last["eval/web/tokens"]
        + last["eval/code/loss"] * last["eval/code/tokens"]
    ) / last["eval/text/tokens"]
    assert last["eval/text/loss"] == pytest.approx(weighted, rel=1e-12)
    assert last["eval/web/loss"] < first["eval/web/loss"]  # the model learns the pattern


def test_resume_keeps_training_and_eval_losses(runs: dict) -> None:
    halves, every = _metrics(runs, "halves"), _metrics(runs, "every")
    assert [r["step"] for r in halves] == list(range(1, 9))
    assert [_train_part(r) for r in halves] == [_train_part(r) for r in every]
    evaluated = [r["step"] for r in halves if _evals(r)]
    assert evaluated == [4, 6, 8]
    for step in evaluated:
        assert _evals(halves[step - 1]) == _evals(every[step - 1])  # exact


def _evaluator(runs: dict, say) -> tuple:
    from polymix.model.sharding import ShardingRules, make_mesh
    from polymix.trainer.evaluation import build_evaluator
    from polymix.trainer.run import loader_for

    cfg = tiny_config(*EVAL)
    model_cfg = cfg.resolved_model()
    rules = ShardingRules(make_mesh(cfg.mesh_shape(jax.device_count())))
    loader = loader_for(cfg, model_cfg, 32, runs["corpus"].manifest_path, 0, 1)
    params = runs["every"].state["params"]
    shardings = jax.tree.map(lambda x: x.sharding, params)
    try:
        manifest = loader.dataset.manifest
        return build_evaluator(cfg, model_cfg, manifest, loader, rules, shardings, say), params
    finally:
        loader.close()


def test_evaluation_is_repeatable_and_matches_the_logged_line(runs: dict) -> None:
    said: list[str] = []
    evaluator, params = _evaluator(runs, said.append)
    assert said == ["warning: eval: source books has no held-out records; not evaluated"]
    first, second = evaluator.evaluate(params), evaluator.evaluate(params)
    assert first == second
    assert first == _evals(_metrics(runs, "every")[-1])  # a fresh build reads the same set


def test_source_loss_is_the_token_weighted_cross_entropy_without_moe_losses(
    runs: dict, corpus: EvalCorpus
) -> None:
    from polymix.model.transformer import loss_fn

    model_cfg = tiny_config().resolved_model()
    forward = jax.jit(lambda p, b: loss_fn(p, b, model_cfg, train=False)[1])
    params = jax.device_get(runs["every"].state["params"])
    total = tokens = 0.0
    for batch in _batches(corpus, "web"):
        aux = forward(params, batch)
        assert float(aux["aux_loss"]) > 0  # there is an MoE loss to leave out
        total += float(aux["ce_loss"]) * float(aux["loss_tokens"])
        tokens += float(aux["loss_tokens"])
    last = _metrics(runs, "every")[-1]
    assert last["eval/web/tokens"] == tokens
    assert last["eval/web/loss"] == pytest.approx(total / tokens, rel=1e-5)


def _segments(batch: dict) -> list[tuple[int, int, list[int]]]:
    """(row, segment, tokens) of every packed document."""
    out = []
    for row in range(len(batch["tokens"])):
        seg = batch["segment_ids"][row]
        for sid in np.unique(seg[seg > 0]).tolist():
            where = np.flatnonzero(seg == sid)
            assert batch["positions"][row, where].tolist() == list(range(len(where)))
            out.append((row, sid, batch["tokens"][row, where].tolist()))
    return out


def _batches(corpus: EvalCorpus, name: str) -> list[dict]:
    from polymix.trainer.data.layout import Layout

    manifest = load_manifest(corpus.manifest_path)
    layout = Layout(seq_len=32, patch_dim=48, n_mels=8, audio_stack=2)
    return heldout_batches(
        manifest, name, layout=layout, rows=8, batches=2, max_patches=1, max_frames=1
    )


def test_eval_batches_are_fixed_and_pinned(corpus: EvalCorpus) -> None:
    held_out = corpus.held_out
    web = _batches(corpus, "web")
    assert len(web) == 2 and all(len(b["tokens"]) == 8 for b in web)
    again = _batches(corpus, "web")
    for a, b in zip(web, again, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    docs = [tokens for batch in web for _, _, tokens in _segments(batch)]
    # Whole held-out records, each once, first-fit packed in file order (shard 00000 first).
    pool = [d.tolist() for d in held_out["web"]]
    assert all(doc in pool for doc in docs) and len({tuple(d) for d in docs}) == len(docs)
    assert _segments(web[0])[0][2] == pool[0]
    assert 8 < len(docs) < len(pool)  # 16 rows hold some of the 40 records, not all
    digest = hashlib.sha256()
    for batch in web:
        for key in ("tokens", "segment_ids", "targets", "loss_mask"):
            digest.update(np.ascontiguousarray(batch[key]).tobytes())
    assert digest.hexdigest()[:16] == WEB_DIGEST  # the eval set itself, pinned
    code = _batches(corpus, "code")  # 5 records: one batch, the rest padding rows
    assert len(code) == 1 and len(code[0]["tokens"]) == 8
    assert sorted(t for _, _, t in _segments(code[0])) == sorted(
        d.tolist() for d in held_out["code"]
    )
    used = {row for row, _, _ in _segments(code[0])}
    padding = [r for r in range(8) if r not in used]
    assert padding and not code[0]["loss_mask"][padding].any()
    assert _batches(corpus, "books") == []


def test_tensorboard_and_plot_carry_the_eval_losses(runs: dict) -> None:
    events = b"".join(p.read_bytes() for p in (runs["base"] / "every" / "tensorboard").iterdir())
    for tag in (b"eval/web/loss", b"eval/code/loss", b"eval/text/loss", b"train/loss"):
        assert tag in events
    assert b"train/eval/" not in events
    out = plot_loss(runs["base"] / "every")
    assert out is not None and out.stat().st_size > 0


def test_a_resume_with_another_mixture_is_refused(runs: dict) -> None:
    with pytest.raises(PreflightError, match=r"mixture: saved '', now 'web=1.0'"):
        train(
            tiny_config("eval_every=4", *EVAL, "mixture=web=1"),
            runs["corpus"].manifest_path,
            runs["base"] / "halves",
            resume=True,
        )


def _drawn(manifest: Path, mixture: str) -> set[str]:
    from polymix.trainer.run import loader_for

    cfg = tiny_config(f"mixture={mixture}") if mixture else tiny_config()
    loader = loader_for(cfg, cfg.resolved_model(), 32, manifest, 0, 1)
    try:
        tokens = np.concatenate([next(loader)["tokens"].ravel() for _ in range(8)])
    finally:
        loader.close()
    bands = {"web": (8, 64), "code": (64, 120), "books": (120, 128)}
    return {name for name, (lo, hi) in bands.items() if ((tokens >= lo) & (tokens < hi)).any()}


def test_mixture_changes_which_records_are_drawn(corpus: EvalCorpus) -> None:
    manifest = corpus.manifest_path
    assert _drawn(manifest, "") == {"web", "code", "books"}
    assert _drawn(manifest, "web=1") == {"web"}
    assert _drawn(manifest, "code=3,books=1") == {"code", "books"}


def test_a_mixture_naming_an_unknown_source_is_one_line(corpus: EvalCorpus, tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match=r"names unknown source\(s\) \['nope'\]") as err:
        train(tiny_config("mixture=web=1,nope=2"), corpus.manifest_path, tmp_path)
    assert "\n" not in str(err.value) and "'books', 'code', 'web'" in str(err.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("web", "is not name=weight"),
        ("web=x", "is not a number"),
        ("web=-1", "must be finite and >= 0"),
        ("web=nan", "must be finite and >= 0"),
        ("web=0,code=0", "no weight is positive"),
        ("web=1,web=2", "named twice"),
    ],
)
def test_a_bad_mixture_weight_is_one_line(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as err:
        apply_overrides(tiny_config(), [f"mixture={text}"])
    assert "\n" not in str(err.value) and str(err.value).startswith("mixture=")


def test_mixture_weights_are_normalised_and_stored_canonically() -> None:
    cfg = apply_overrides(tiny_config(), ["mixture= code=3 , web=1"])
    assert cfg.mixture == "code=3.0,web=1.0"
    assert cfg.mixture_weights() == {"code": 0.75, "web": 0.25}
    again = type(cfg).from_dict(cfg.to_dict())
    assert again.mixture == cfg.mixture  # a saved config reads back unchanged


def test_eval_every_without_held_out_shards_is_one_line(tmp_path: Path) -> None:
    manifest = write_text_corpus(tmp_path / "data", records=40)
    with pytest.raises(PreflightError, match="lists no held-out") as err:
        train(tiny_config("eval_every=2"), manifest, tmp_path / "run")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="eval_every=2 needs eval_batches > 0"):
        apply_overrides(tiny_config(), ["eval_every=2", "eval_batches=0"])


MESH_SCRIPT = """
import json, sys
import jax
from polymix.trainer.config import TrainConfig, apply_overrides
from polymix.trainer.loop import train
from polymix.trainer.metrics import read_metrics

assert jax.device_count() == 8, jax.devices()
overrides, base = json.loads(sys.argv[2]), sys.argv[3]
out = {}
for mesh in ("1,1,1", "2,2,2"):
    cfg = apply_overrides(TrainConfig(), [*overrides, f"mesh={mesh}"])
    train(cfg, sys.argv[1], f"{base}/{mesh}")
    out[mesh] = [{k: v for k, v in r.items() if k.startswith("eval/")} for r in read_metrics(f"{base}/{mesh}")]
print("EVALS " + json.dumps(out))
"""


@pytest.mark.slow  # a fresh 8-device process, two runs: ~1 min
def test_a_sharded_mesh_evaluates_like_one_device(corpus: EvalCorpus, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.trainer.train_corpus import TINY

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    # grad_accum=2: eval batches of 4 rows, split over data x expert = 4 devices.
    overrides = [*TINY, "steps=2", "checkpoint_every=100", "grad_accum=2", "eval_every=1"]
    proc = subprocess.run(
        [sys.executable, "-c", MESH_SCRIPT, str(corpus.manifest_path), json.dumps(overrides)]
        + [str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("EVALS "))
    evals = json.loads(line[len("EVALS ") :])
    one, mesh = evals["1,1,1"], evals["2,2,2"]
    assert len(one) == 2 and set(one[0]) == set(mesh[0]) and "eval/web/loss" in one[0]
    for a, b in zip(one, mesh, strict=True):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=2e-5), key
