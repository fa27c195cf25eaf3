"""`polymix run` over media built to break decoders: the run completes and every input
ends exactly where its construction says (kept, or rejected with its reason)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from array_record.python.array_record_module import ArrayRecordReader

from polymix.cli import main
from polymix.core.record_codec import decode
from polymix.transforms.sentencepiece_tokenizer import train_sentencepiece
from tests.support.hostile_media import MEDIA, SOURCES, write_hostile_media
from tests.support.run_layout import data_root


def _rejected_ids(output: Path, source: str) -> dict[str, str]:
    """id -> "stage/reason" from the rejected/ side files the run wrote."""
    found: dict[str, str] = {}
    rejected = data_root(output) / "rejected" / source
    for path in sorted(rejected.rglob("*.jsonl.gz")):
        stage, reason = path.relative_to(rejected).parts[:2]
        for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
            found[json.loads(line)["id"]] = f"{stage}/{reason}"
    return found


def _kept_ids(output: Path, source: str) -> set[str]:
    """The examples the shards (training and held-out) hold records of."""
    ids = set()
    folders = [data_root(output) / split / source for split in ("shards", "eval")]
    for path in sorted(p for folder in folders for p in folder.rglob("*.array_record")):
        reader = ArrayRecordReader(str(path))
        for payload in reader.read_all():
            ids.add(decode(payload).fields["doc_id"])
        reader.close()
    return ids


@pytest.mark.slow
def test_every_hostile_input_is_accounted_for(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    expected = write_hostile_media(root)
    train_sentencepiece(
        [f"A generated picture number {i}, un café serré." for i in range(20)] * 5,
        root / "tokenizer" / "spm.model",
        vocab_size=400,
    )
    config = {
        "sources": [{**entry, "weight": 1.0} for entry in SOURCES],
        "tokenizer": {"model": "tokenizer/spm.model", "vocab_size": 400},
        "shards": {"max_seq_len": 2048},
        "media": MEDIA,
    }
    (root / "polymix.yaml").write_text(yaml.safe_dump(config))
    output = tmp_path / "out"
    assert main(["run", str(root / "polymix.yaml"), "--output", str(output)]) == 0
    manifest = json.loads((output / "manifest.json").read_text())
    for source, outcomes in expected.outcomes.items():
        totals = manifest["sources"][source]
        assert totals["input"] == len(outcomes), source
        assert totals["kept"] == Counter(outcomes.values())["kept"], source
        rejected = {
            f"{stage}/{reason}": n
            for stage, reasons in totals["rejected"].items()
            for reason, n in reasons.items()
        }
        wanted = Counter(v for v in outcomes.values() if v != "kept")
        assert rejected == dict(wanted), source
        assert not totals["duplicates"], source
        assert _rejected_ids(output, source) == {
            i: o for i, o in outcomes.items() if o != "kept"
        }, source
        assert _kept_ids(output, source) == {i for i, o in outcomes.items() if o == "kept"}
    assert main(["verify", str(output)]) == 0
