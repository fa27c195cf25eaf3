"""`polymix train` end to end on the tiny model: what lands in the checkpoint folder."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.trainer.metrics import read_metrics
from tests.trainer.train_corpus import TINY, share_compilation_cache, write_text_corpus


def scalars(path: Path) -> list[tuple[int, str, float]]:
    """(step, tag, value) from a TensorBoard event file: TFRecord frames of Event protos."""
    from tensorboardX.proto.event_pb2 import Event

    data, out, pos = path.read_bytes(), [], 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos : pos + 8])
        event = Event.FromString(data[pos + 12 : pos + 12 + length])
        pos += 12 + length + 4
        out += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
    return out


def test_train_command_writes_metrics_events_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    share_compilation_cache()
    manifest = write_text_corpus(tmp_path / "data")
    ckpt = tmp_path / "ckpt"
    args = ["train", "--manifest", str(manifest), "--model", "tiny", "--steps", "3"]
    assert main([*args, "--checkpoint-dir", str(ckpt), *TINY[2:], "plot=true"]) == 0
    assert "trained steps 0..3" in capsys.readouterr().out
    records = read_metrics(ckpt)
    assert [r["step"] for r in records] == [1, 2, 3]
    for key in (
        "loss",
        "ce_loss",
        "aux_loss",
        "z_loss",
        "grad_norm",
        "lr",
        "tokens_per_s",
        "mfu",
        "hfu",
        "expert_load_max",
        "expert_load_cv",
        "dropped_fraction",
        "skipped",
    ):
        assert key in records[-1], key
    events = list((ckpt / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    assert [step for step, tag, _ in scalars(events[0]) if tag == "train/loss"] == [1, 2, 3]
    assert (ckpt / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in ckpt.iterdir() if p.name.isdigit()) == ["3"]


def test_bad_override_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.json"
    code = main(
        ["train", "--manifest", str(manifest), "--checkpoint-dir", str(tmp_path / "c"), "warmup=10"]
    )
    assert code == 2
    assert "unknown key 'warmup'; did you mean 'warmup_steps'?" in capsys.readouterr().err


def test_profile_steps_write_a_trace_for_tensorboard(tmp_path: Path) -> None:
    """profile_steps=2:3: one JAX profiler trace (xplane) under CKPT/tensorboard, whose
    ops carry the model's named scopes."""
    import gzip

    from polymix.trainer.loop import train
    from tests.trainer.train_corpus import tiny_config

    share_compilation_cache()
    manifest = write_text_corpus(tmp_path / "data")
    ckpt = tmp_path / "ckpt"
    train(tiny_config("steps=3", "profile_steps=2:3"), manifest, ckpt)
    traces = list((ckpt / "tensorboard" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1, traces
    events = list((ckpt / "tensorboard" / "plugins" / "profile").glob("*/*.trace.json.gz"))
    text = traces[0].read_bytes() + b"".join(gzip.decompress(e.read_bytes()) for e in events)
    for scope in (b"attention", b"moe_dispatch", b"experts", b"moe_combine", b"loss"):
        assert scope in text, scope
