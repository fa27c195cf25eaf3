"""The report's examples come from the run's side files: first few per reason, escaped, cheap."""

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from polymix.core.manifest import Manifest, SourceTotals
from polymix.core.manifest.entries import SideFileInfo
from polymix.core.manifest.write import write_manifest
from polymix.report import render_report
from polymix.report.examples import run_samples
from polymix.transforms.example import Duplicate, Example, Rejection
from polymix.transforms.side_records import duplicate_line, rejection_line

HOSTILE = "<script>alert('owned')</script> & <img src=x onerror=alert(1)>"


def _part(root: Path, folder: str, number: int, lines: list[bytes], **facts) -> SideFileInfo:
    path = f"{folder}/part-{number:05d}-of-00002.jsonl.gz"
    data = gzip.compress(b"".join(lines), mtime=0)
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return SideFileInfo(
        path=path, lines=len(lines), bytes=len(data), sha256=digest, source="web", **facts
    )


def _rejected(i: int, reason: str, text: str) -> bytes:
    example = Example("web", f"{reason}-{i}", "text", text=text, original={"url": f"u{i}"})
    return rejection_line(Rejection(example, "gopher_quality", reason, detail=f"why {i}"))


def _duplicate(i: int) -> bytes:
    example = Example("web", f"copy-{i}", "text", text=f"the same page again, copy {i}")
    return duplicate_line(Duplicate(example, "near_dedup", kept_id=f"kept-{i % 2}", similarity=0.9))


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    too_short = [_rejected(i, "too_short", HOSTILE if i == 1 else f"short {i}") for i in range(5)]
    long_text = "x" * 1000
    short = "rejected/web/gopher_quality/too_short"
    parts = [
        _part(tmp_path, short, 0, too_short, **_r("too_short")),
        _part(tmp_path, short, 1, [_rejected(9, "too_short", "second")], **_r("too_short")),
        _part(
            tmp_path,
            "rejected/web/gopher_quality/too_long",
            0,
            [_rejected(0, "too_long", long_text)],
            **_r("too_long"),
        ),
        _part(
            tmp_path,
            "duplicates/web/near_dedup",
            0,
            [_duplicate(i) for i in range(4)],
            kind="duplicates",
            stage="near_dedup",
        ),
    ]
    totals = SourceTotals(
        modality="text",
        weight=1.0,
        input=20,
        kept=9,
        records=9,
        tokens=900,
        positions={"text": 900},
        duplicates={"near_dedup": 4},
        rejected={"gopher_quality": {"too_short": 6, "too_long": 1}},
    )
    facts = {"polymix_version": "0.1.0", "config_hash": "cd" * 32, "max_seq_len": 64}
    manifest = Manifest(**facts, sources={"web": totals})
    write_manifest(tmp_path, manifest, [], parts, entries_per_file=1)
    return tmp_path


def _r(reason: str) -> dict:
    return {"kind": "rejected", "stage": "gopher_quality", "reason": reason}


def _examples(page: str) -> str:
    return re.search(r'<section id="examples">(.*?)</section>', page, re.S).group(1)


def test_each_reason_shows_its_first_documents_and_each_duplicate_the_one_kept(run_dir):
    section = _examples(render_report(run_dir).html.read_text())
    for i in range(3):
        assert f"id too_short-{i} · why {i}" in section
    assert "too_short-3" not in section and "too_short-4" not in section
    assert "web · gopher_quality · too_short: 6 removed" in section
    assert "id copy-0 · duplicate of kept-0 · similarity 0.900" in section
    assert "id copy-1 · duplicate of kept-1" in section
    assert "the same page again, copy 2" in section
    assert "x" * 300 + "<span class=muted> … 700 more characters" in section
    assert "x" * 301 not in section
    assert "second" not in section  # the second part of a reason is never opened


def test_a_document_holding_markup_is_shown_as_text_and_nothing_runs(run_dir):
    page = render_report(run_dir).html.read_text()
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; &amp; &lt;img src=x" in page
    assert "<script" not in page and "<img src=x" not in page


def test_examples_read_only_the_index_and_lines_they_need(run_dir):
    # Every entry is its own index file; the last (too_short's second part) is never read
    # once every group has a part, and lines after the first few are never decoded.
    manifest = Manifest.model_validate_json((run_dir / "manifest.json").read_text())
    listed = sorted(f.path for f in manifest.index if f.kind == "rejected")
    assert len(listed) == 3
    (run_dir / listed[-1]).write_bytes(b"not gzip")
    part = run_dir / "rejected/web/gopher_quality/too_short/part-00000-of-00002.jsonl.gz"
    whole = gzip.decompress(part.read_bytes()).splitlines(keepends=True)
    damaged_tail = b"\x1f\x8b\x08 the rest of a part nobody should decompress"
    part.write_bytes(gzip.compress(b"".join(whole[:3]), mtime=0) + damaged_tail)
    groups = run_samples(render_report(run_dir).data.manifest)
    shown = {(g.stage, g.reason): [s.id for s in g.samples] for g in groups}
    assert shown[("gopher_quality", "too_short")] == ["too_short-0", "too_short-1", "too_short-2"]
    assert [g.error for g in groups] == [None, None, None]


def test_a_missing_side_file_is_one_line_in_the_page_not_a_failure(run_dir):
    (run_dir / "duplicates/web/near_dedup/part-00000-of-00002.jsonl.gz").unlink()
    section = _examples(render_report(run_dir).html.read_text())
    missing = "duplicates/web/near_dedup/part-00000-of-00002.jsonl.gz"
    assert f"no examples: {missing} cannot be read (FileNotFoundError" in section
    assert "id too_short-0" in section


def test_a_document_without_text_shows_its_input_as_json():
    from polymix.report.examples import _sample

    media = _sample({"id": "a.png", "original": {"file": "a.png", "bytes": 3}}, 300)
    assert media.text == '{"bytes": 3, "file": "a.png"}'
    assert _sample({"id": "e", "text": " \n"}, 300).text == '(empty text: " \\n")'
