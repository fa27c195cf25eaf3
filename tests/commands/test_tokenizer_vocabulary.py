"""`tokenizer train` says what vocabulary it produced, and refuses one smaller than asked for.

The corpus is the standard library's own prose (module docstrings nobody here wrote): a few
kilobytes of English that cannot fill a vocabulary of thousands of pieces.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import logging
import re

import sentencepiece as spm
import yaml

from polymix.cli import main

DOCUMENTS = [m.__doc__ for m in (argparse, collections, csv, json, logging, re)]


def _config(tmp_path, vocab_size: int) -> str:
    lines = [json.dumps({"id": str(k), "text": doc}) for k, doc in enumerate(DOCUMENTS)]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n")
    config = {
        "sources": [
            {"name": "docs", "modality": "text", "paths": ["docs.jsonl"], "format": "jsonl"}
        ],
        "tokenizer": {"model": "spm.model", "vocab_size": vocab_size},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return str(tmp_path / "c.yaml")


def _pieces(path) -> int:
    return spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()


def test_a_reachable_vocabulary_is_stated(tmp_path, capsys):
    assert main(["tokenizer", "train", _config(tmp_path, 400)]) == 0
    out = capsys.readouterr().out
    assert _pieces(tmp_path / "spm.model") == 400
    assert "400 pieces" in out.splitlines()[-1]


def test_an_unreachable_vocabulary_is_one_line_naming_both_sizes(tmp_path, capsys):
    config = _config(tmp_path, 50_000)
    (tmp_path / "spm.model").write_bytes(b"the previous model")
    assert main(["tokenizer", "train", config]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    sizes = [int(n) for n in re.findall(r"\d+", err[0].replace(",", ""))]
    assert 50_000 in sizes and "--allow-smaller" in err[0]
    reachable = [n for n in sizes if 300 < n < 50_000]
    assert reachable, err[0]
    # Nothing was replaced: a config pointing at the model still gets the old one.
    assert (tmp_path / "spm.model").read_bytes() == b"the previous model"


def test_allow_smaller_writes_the_reachable_vocabulary_and_says_so(tmp_path, capsys):
    config = _config(tmp_path, 50_000)
    assert main(["tokenizer", "train", config, "--vocab-size", "50000", "--allow-smaller"]) == 0
    out = capsys.readouterr().out
    pieces = _pieces(tmp_path / "spm.model")
    assert pieces < 50_000
    assert f"{pieces} pieces" in out and "50000" in out.replace(",", "")


def test_a_vocabulary_below_the_characters_needed_names_the_minimum(tmp_path, capsys):
    assert main(["tokenizer", "train", _config(tmp_path, 30)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "30" in err[0]
    minimum = max(int(n) for n in re.findall(r"\d+", err[0]))
    assert minimum > 30
    # The minimum it names is one SentencePiece accepts.
    capsys.readouterr()
    assert main(["tokenizer", "train", _config(tmp_path, minimum)]) == 0
    assert _pieces(tmp_path / "spm.model") == minimum


def test_json_is_one_document_with_the_sizes(tmp_path, capsys):
    assert main(["tokenizer", "train", _config(tmp_path, 400), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["vocab_size"] == info["requested_vocab_size"] == 400
    assert info["documents"] == len(DOCUMENTS) and len(info["sha256"]) == 64
