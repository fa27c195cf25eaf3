"""Refusals before training, and non-finite steps skipped, counted and finally fatal."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from polymix.cli import main
from polymix.core.manifest import ManifestError
from polymix.model.batch import AUDIO
from polymix.trainer.config import ConfigError, TrainConfig, apply_overrides
from polymix.trainer.loop import TrainingDiverged, train
from polymix.trainer.metrics import read_metrics
from polymix.trainer.preflight import PreflightError
from tests.support.manifest_edit import edit_shard_entries, edit_top_level
from tests.trainer.train_corpus import (
    TINY,
    share_compilation_cache,
    tiny_config,
    write_text_corpus,
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("failures")
    share_compilation_cache()
    return write_text_corpus(base / "data")


def poison(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A NaN audio frame at the first position: loss and gradients become NaN."""
    batch = {k: v.copy() for k, v in batch.items()}
    batch["frames"][0, 0, :] = np.nan
    batch["modality"][0, 0] = AUDIO
    batch["frame_index"][0, 0] = 0
    return batch


def test_non_finite_steps_are_skipped_and_counted(manifest: Path, tmp_path: Path) -> None:
    bad = {2, 3}  # zero-based loop steps -> records 3 and 4
    result = train(
        tiny_config("steps=6"),
        manifest,
        tmp_path / "ckpt",
        batch_hook=lambda step, b: poison(b) if step in bad else b,
    )
    records = read_metrics(tmp_path / "ckpt")
    assert [r["finite"] for r in records] == [True, True, False, False, True, True]
    assert [r["skipped"] for r in records] == [0, 0, 1, 2, 2, 2]
    assert [r["bad_streak"] for r in records] == [0, 0, 1, 2, 0, 0]
    assert result.skipped == 2
    # The schedule only advances with applied updates: step 5 uses step 3's rate.
    assert records[4]["lr"] == records[2]["lr"]
    assert np.isfinite(result.losses[-1])


def test_too_many_bad_steps_stop_with_last_good_checkpoint(manifest: Path, tmp_path: Path) -> None:
    """Skipped steps never change the params, so the step-4 checkpoint is still a good one."""
    cfg = tiny_config("max_bad_steps=3", "checkpoint_every=2")
    with pytest.raises(TrainingDiverged, match=r"3 non-finite .*step 5.*checkpoint: step 4"):
        train(cfg, manifest, tmp_path / "ckpt", batch_hook=lambda s, b: poison(b) if s >= 2 else b)
    steps = sorted(int(p.name) for p in (tmp_path / "ckpt").iterdir() if p.name.isdigit())
    assert steps == [2, 4]
    assert len(read_metrics(tmp_path / "ckpt")) == 5


def test_manifest_failing_verification_is_refused(manifest: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(manifest.parent, copy)
    shard = sorted((copy / "shards").iterdir())[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="sha256"):
        train(tiny_config(), copy / "manifest.json", tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()  # refused before anything was created
    shard.write_bytes(bytes(data[:-1]))
    with pytest.raises(ManifestError, match="bytes on disk"):
        train(tiny_config("verify=lazy"), copy / "manifest.json", tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_tokenizer_larger_than_model_vocab_is_refused(tmp_path: Path) -> None:
    big = write_text_corpus(tmp_path / "data", vocab=500, records=20)
    with pytest.raises(PreflightError, match="vocab_size 500 exceeds the model's vocab_size 128"):
        train(tiny_config(), big, tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_mesh_must_fit_devices_and_batch(manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="needs 64 devices"):
        train(tiny_config("mesh=4,4,4"), manifest, tmp_path / "a")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="unknown key 'peak_lrr'; did you mean 'peak_lr'"):
        apply_overrides(TrainConfig(), ["peak_lrr=1"])
    with pytest.raises(ConfigError, match="warmup_steps='soon'"):
        apply_overrides(TrainConfig(), ["warmup_steps=soon"])
    with pytest.raises(ConfigError, match="weight_decay_mode"):
        apply_overrides(TrainConfig(), ["weight_decay_mode=sometimes"])
    with pytest.raises(ConfigError, match="n_layerz"):
        apply_overrides(TrainConfig(), ["model.n_layerz=2"])
    with pytest.raises(ConfigError, match="mesh="):
        apply_overrides(TrainConfig(), ["mesh=2,2"])
    cfg = apply_overrides(TrainConfig(), ["model=tiny", "model.n_layers=4", "steps=1e3"])
    assert cfg.steps == 1000 and cfg.resolved_model().n_layers == 4


def test_train_refuses_a_shard_borrowed_from_another_run_in_one_line(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid shard of another run (same bytes, same sha256) is still outside this run."""
    copy = tmp_path / "data"
    shutil.copytree(manifest.parent, copy)

    def borrow(entries):
        entries[0]["path"] = str(manifest.parent / entries[0]["path"])
        return entries

    edit_shard_entries(copy, borrow)
    args = ["train", "--manifest", str(copy / "manifest.json"), "--checkpoint-dir"]
    assert main([*args, str(tmp_path / "ckpt"), *TINY[2:]]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(manifest.parent) in err and "relative to the manifest's folder" in err
    assert not (tmp_path / "ckpt").exists()


# lazy: the loader finds it on first read, after the model compiled (~30 s here).
@pytest.mark.parametrize("verify", ["full", pytest.param("lazy", marks=pytest.mark.slow)])
def test_train_names_a_checksum_matching_shard_that_is_not_array_record(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], verify: str
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(manifest.parent, copy)
    junk = b"\x00" * 70_000  # past ArrayRecord's 64 KB minimum, but no footer
    victim: list[str] = []

    def replace(entries):
        victim.append(entries[0]["path"])
        (copy / entries[0]["path"]).write_bytes(junk)
        entries[0].update(bytes=len(junk), sha256=hashlib.sha256(junk).hexdigest())
        return entries

    edit_shard_entries(copy, replace)
    args = ["train", "--manifest", str(copy / "manifest.json"), "--checkpoint-dir"]
    assert main([*args, str(tmp_path / "ckpt"), *TINY[2:], f"verify={verify}"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{victim[0]}: not a readable ArrayRecord file" in err


def test_a_media_layout_the_model_cannot_embed_is_refused_before_anything_is_built(
    manifest: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(manifest.parent, copy)
    tiny = tiny_config().resolved_model()
    layout = {"patch_size": tiny.patch_size + 1, "image_channels": tiny.image_channels}
    layout |= {"n_mels": tiny.n_mels, "frame_stack": tiny.frame_stack * 2}
    edit_top_level(copy, lambda top: top | {"media": layout})
    with pytest.raises(PreflightError) as refused:
        train(tiny_config(), copy / "manifest.json", tmp_path / "ckpt")
    message = str(refused.value)
    assert f"model.patch_size={tiny.patch_size + 1}" in message
    assert f"model.frame_stack={tiny.frame_stack * 2}" in message
    assert "n_mels" not in message and "\n" not in message
    assert not (tmp_path / "ckpt").exists()
