"""Training commands read hostile sources the way a run does: a bad document is skipped, counted."""

from __future__ import annotations

import gzip
import json

import yaml

from polymix.cli import main
from polymix.sample import web_text

SURROGATE_LINES = [
    b'{"text": "a broken emoji \\ud83d in the middle"}',
    b'{"text": "\\udc80\\udc81 escaped bytes"}',
    b'{"text": "caf\xe9"}',
]


def _jsonl(texts: list[str], extra: list[bytes] = ()) -> bytes:
    lines = [json.dumps({"text": t}).encode() for t in texts] + list(extra)
    return b"\n".join(lines) + b"\n"


def test_tokenizer_training_skips_what_the_reader_rejects(tmp_path, capsys):
    (tmp_path / "web").mkdir()
    docs = web_text.make_documents("clean", 20, seed=4)
    (tmp_path / "web" / "a.jsonl").write_bytes(_jsonl(docs, SURROGATE_LINES))
    config = {
        "sources": [
            {"name": "web", "modality": "text", "paths": ["web/*.jsonl"], "format": "jsonl"}
        ],
        "tokenizer": {"model": "spm.model", "vocab_size": 800},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["tokenizer", "train", str(tmp_path / "c.yaml"), "--allow-smaller"]) == 0
    out = capsys.readouterr().out
    assert "read/invalid_unicode 2" in out and "read/invalid_utf8 1" in out
    assert (tmp_path / "spm.model").stat().st_size > 0


def test_tokenizer_settings_it_cannot_train_on_are_one_line(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_bytes(_jsonl(web_text.make_documents("clean", 5, seed=4)))
    config = {
        "sources": [{"name": "web", "modality": "text", "paths": ["a.jsonl"], "format": "jsonl"}],
        "tokenizer": {"model": "spm.model", "vocab_size": 20},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["tokenizer", "train", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SentencePiece" in err[0] and "Traceback" not in err[0]


def test_classifier_training_skips_what_the_reader_rejects(tmp_path, capsys):
    positive = tmp_path / "good.jsonl.gz"
    negative = tmp_path / "junk.jsonl"
    positive.write_bytes(gzip.compress(_jsonl(web_text.make_documents("clean", 30, seed=5))))
    junk = web_text.make_documents("spam", 30, seed=6)
    negative.write_bytes(_jsonl(junk, SURROGATE_LINES))
    output = tmp_path / "q.bin"
    command = ["classifier", "train", "--positive", str(positive), "--negative", str(negative)]
    assert main([*command, "--output", str(output), "--epoch", "2"]) == 0
    assert "skipped 3 input(s)" in capsys.readouterr().out and output.stat().st_size > 0
