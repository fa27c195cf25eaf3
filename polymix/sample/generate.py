"""The built-in sample corpus: generated, seeded, and full of what real corpora have.

Exact and near duplicates, boilerplate, very short and very long documents,
non-English text, code, and broken input (invalid JSON, invalid UTF-8, missing and
empty text, an empty file, a file that is not what its name says), and a web crawl
(`web_archive`: a WARC and a WET file, a URL block list, an eval set). `generate`
returns the counts a correct pipeline must report, derived from how the corpus was
built, not from running the pipeline.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
import zstandard

from polymix.sample import web_archive, web_text
from polymix.sample import words as W
from polymix.sample.media import MAX_SEQ_LEN, MEDIA_SETTINGS, MEDIA_SOURCES, generate_media
from polymix.transforms.normalize import normalize_text


@dataclass
class Expected:
    """Per-source counts implied by construction."""

    input: Counter = field(default_factory=Counter)
    rejected: dict[str, Counter] = field(default_factory=dict)  # source -> "stage/reason" -> n
    exact_duplicates: Counter = field(default_factory=Counter)
    near_duplicates_planted: Counter = field(default_factory=Counter)
    languages_planted: Counter = field(default_factory=Counter)  # non-English web pages

    def reject(self, source: str, stage: str, reason: str, n: int = 1) -> None:
        self.rejected.setdefault(source, Counter())[f"{stage}/{reason}"] += n
        self.input[source] += n


def book(rng: random.Random, index: int, chapters: int) -> str:
    """A long document: chapters of clean prose under numbered headings."""
    parts = [f"Volume {index}"]
    for chapter in range(chapters):
        parts.append(f"Chapter {chapter + 1}")
        parts += web_text.make_documents("clean", 1, seed=rng.randrange(2**31))
    return "\n\n".join(parts)


def code_file(rng: random.Random, index: int) -> str:
    functions = []
    for k in range(rng.randint(2, 5)):
        name = f"{rng.choice(W.CODE_NAMES)}_{rng.choice(W.CODE_NOUNS)}_{index}_{k}"
        arg = rng.choice(W.CODE_NOUNS)
        body = [
            f'    """{rng.choice(W.CODE_NAMES).capitalize()} the {arg} before it is stored."""',
            f"    if {arg} is None:",
            f"        raise ValueError('missing {arg}')",
            f"    result = [item for item in {arg} if item]",
            f"    return len(result) * {rng.randint(1, 99)}",
        ]
        functions.append("\n".join([f"def {name}({arg}):", *body]))
    return "import os\nimport sys\n\n\n" + "\n\n\n".join(functions) + "\n"


def near_copy(rng: random.Random, text: str, rate: float, index: int) -> str:
    """Random word substitutions plus a unique last line, so it is never an exact copy."""
    words = text.split(" ")
    for i in range(len(words)):
        if rng.random() < rate:
            words[i] = rng.choice(["new", "small", "old", "local", "public"])
    return " ".join(words) + f"\n\nUpdated edition {index}."


def whitespace_variant(text: str) -> str:
    """Same text after normalization: CRLF line ends, trailing spaces, decomposed accents."""
    return unicodedata.normalize("NFD", text.replace("\n", "  \r\n"))


def _jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as out:
        out.write(data)
    return buffer.getvalue()


def _unique(text: str, seen: set[str], index: int) -> str:
    """Make a generated page unique (after normalization) so planted duplicates are the only ones."""
    if normalize_text(text) in seen:
        text += f"\n\nPage {index}."
    seen.add(normalize_text(text))
    return text


def _web(rng: random.Random, root: Path, expected: Expected, scale: int) -> None:
    rows: list[dict] = []
    seen: set[str] = set()
    pages = web_text.make_corpus(300 * scale, seed=rng.randrange(2**31), foreign_fraction=0.12)
    for i, page in enumerate(pages):
        text = _unique(page["text"], seen, i)
        rows.append(
            {
                "id": f"web-{i:06d}",
                "url": f"https://example.org/{i}",
                "kind": page["kind"],
                "text": text,
            }
        )
    clean = [r for r in rows if r["kind"] == "clean"]
    for i in range(2 * scale):
        text = _unique(book(rng, 10_000 + i, 12), seen, i)
        rows.append({"id": f"web-long-{i}", "kind": "long", "text": text})
    for i in range(20 * scale):
        original = rng.choice(clean)
        rows.append(
            {
                "id": f"web-near-{i}",
                "kind": "near_copy",
                "text": near_copy(rng, original["text"], 0.01, i),
            }
        )
        expected.near_duplicates_planted["web"] += 1
    for i in range(30 * scale):
        original = rng.choice(clean)["text"]
        text = whitespace_variant(original) if i % 3 == 0 else original
        rows.append({"id": f"web-copy-{i}", "kind": "exact_copy", "text": text})
        expected.exact_duplicates["web"] += 1
    rng.shuffle(rows)
    half = len(rows) // 2
    (root / "web").mkdir(parents=True)
    (root / "web" / "web-000.jsonl.gz").write_bytes(_gzip(_jsonl(rows[:half])))
    (root / "web" / "web-001.jsonl.gz").write_bytes(_gzip(_jsonl(rows[half:])))
    expected.input["web"] += len(rows)
    expected.languages_planted.update(
        r["kind"].split(":")[1] for r in rows if r["kind"].startswith("foreign:")
    )
    _web_broken_files(root, expected)


def _web_broken_files(root: Path, expected: Expected) -> None:
    """Lines and files every reader meets in real crawls, each with the rejection it must give."""
    bad_lines = [
        b'{"id": "bad-json-1", "text": "unterminated',
        b"this is not json at all",
        b'{"id": "bad-utf8", "text": "caf\xe9 au lait"}',
        b'{"id": "no-text", "body": "the text is under another key"}',
        b'{"id": "empty-text", "text": ""}',
        b'{"id": "blank-text", "text": "   \\n\\t  "}',
        b"[1, 2, 3]",
        b'{"id": "number-text", "text": 42}',
        b'{"id": "good-in-bad-file", "text": "A good line in a bad file still counts as a document."}',
    ]
    (root / "web" / "web-broken.jsonl").write_bytes(b"\n".join(bad_lines) + b"\n")
    for reason in ("invalid_json", "invalid_json", "invalid_utf8", "missing_text_field"):
        expected.reject("web", "read", reason)
    expected.reject("web", "normalize", "empty_text", 2)
    expected.reject("web", "read", "not_an_object")
    expected.reject("web", "read", "text_not_a_string")
    expected.input["web"] += 1
    (root / "web" / "web-empty.jsonl").write_bytes(b"")
    expected.reject("web", "read", "empty_file")
    (root / "web" / "web-notgzip.jsonl.gz").write_bytes(b"this file claims to be gzip but is not\n")
    expected.reject("web", "read", "unreadable_file")


def _books(rng: random.Random, root: Path, expected: Expected, scale: int) -> None:
    books = [
        {
            "book_id": f"book-{i:03d}",
            "title": f"Volume {i}",
            "content": book(rng, i, rng.randint(8, 20)),
        }
        for i in range(8 * scale)
    ]
    books.append({"book_id": "book-reprint", "title": "Reprint", "content": books[0]["content"]})
    expected.exact_duplicates["books"] += 1
    (root / "books").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(books), root / "books" / "books.parquet")
    expected.input["books"] += len(books)


def _code(rng: random.Random, root: Path, expected: Expected, scale: int) -> None:
    files = [
        {"path": f"lib/v1/module_{i}.py", "content": code_file(rng, i)} for i in range(60 * scale)
    ]
    for i in range(6 * scale):
        copied = files[i]["content"]
        files.append({"path": f"lib/v2/module_{i}.py", "content": copied})
        expected.exact_duplicates["code"] += 1
    (root / "code").mkdir(parents=True)
    data = zstandard.ZstdCompressor(level=3).compress(_jsonl(files))
    (root / "code" / "code.jsonl.zst").write_bytes(data)
    expected.input["code"] += len(files)


TEXT_SOURCES: list[dict] = [
    {
        "name": "web",
        "modality": "text",
        "paths": ["web/*.jsonl.gz", "web/*.jsonl"],
        "format": "jsonl",
        "text_field": "text",
        "id_field": "id",
        "weight": 0.5,
    },
    {
        "name": "books",
        "modality": "text",
        "paths": ["books/*.parquet"],
        "format": "parquet",
        "text_field": "content",
        "id_field": "book_id",
        "weight": 0.2,
    },
    {
        "name": "code",
        "modality": "code",
        "paths": ["code/*.jsonl.zst"],
        "format": "jsonl",
        "text_field": "content",
        "id_field": "path",
        "weight": 0.1,
    },
]


QUALITY_CLASSIFIER = "classifier/quality.bin"
# The demo's sources keep 3 to ~160 examples each, so 0.5% would hold out none of most.
# A fifth, with this salt, holds out at least one kept example of every source (the
# books' and media's kept ids are fixed names, whatever the seed), which the mixture
# ablation evaluates on.
EVAL_SPLIT = {"fraction": 0.2, "salt": "demo-3"}
JUNK_KINDS = ("boilerplate", "list", "repetitive", "spam", "table")


def _quality_examples(root: Path, seed: int, scale: int) -> None:
    """Clean and junk pages (not part of any source) for the demo's fastText quality classifier."""
    (root / "quality").mkdir()
    clean = web_text.make_documents("clean", 150 * scale, seed=seed + 1)
    junk = [
        text
        for i, kind in enumerate(JUNK_KINDS)
        for text in web_text.make_documents(kind, 30 * scale, seed=seed + 2 + i)
    ]
    for name, texts in (("positive", clean), ("negative", junk)):
        rows = [{"text": text} for text in texts]
        (root / "quality" / f"{name}.jsonl.gz").write_bytes(_gzip(_jsonl(rows)))


def demo_config() -> str:
    """The sample corpus's config: every source, small tokenizer and shards for a quick demo."""
    config = {
        "seed": 0,
        "sources": TEXT_SOURCES + [web_archive.WEB_SOURCE] + MEDIA_SOURCES,
        "url_filter": web_archive.URL_FILTER,
        "tokenizer": {"model": "tokenizer/spm.model", "vocab_size": 2000},
        "shards": {
            "target_bytes": 262144,
            "max_seq_len": MAX_SEQ_LEN,
            "side_output_target_bytes": 65536,
        },
        "filters": {
            "stages": {
                "text": ["language", "gopher_repetition", "gopher_quality", "c4", "fineweb"]
                + ["pii", "quality_classifier"],
            },
            "quality_classifier": {"model_path": QUALITY_CLASSIFIER, "min_score": 0.5},
            "decontaminate": web_archive.DECONTAMINATE,
        },
        "near_dedup": {"max_rounds": 10},  # its clusters are pairs: a few rounds finish them
        "media": MEDIA_SETTINGS,
        "eval": EVAL_SPLIT,
    }
    header = "# The demo corpus's config: written by `polymix sample`, run by `make demo`.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def generate(root: str | Path, *, seed: int = 0, scale: int = 1) -> dict:
    """Write the sample corpus and its config under `root` (which must not exist yet).

    Returns (and writes as expected.json) the counts a correct run must report.
    """
    root = Path(root)
    root.mkdir(parents=True)
    rng = random.Random(seed)
    expected = Expected()
    _web(rng, root, expected, scale)
    _books(rng, root, expected, scale)
    _code(rng, root, expected, scale)
    crawl = web_archive.write_crawl(root, seed=rng.randrange(2**31), scale=scale)
    expected.input["webarc"] += crawl.inputs
    expected.rejected["webarc"] = Counter(crawl.rejected)
    expected.exact_duplicates["webarc"] += crawl.exact_duplicates
    media = generate_media(root, seed=seed)
    _quality_examples(root, seed, scale)
    (root / "polymix.yaml").write_text(demo_config())
    counts = {
        "input": {**expected.input, **media.input},
        "rejected": {
            **{s: dict(c) for s, c in expected.rejected.items()},
            **{s: dict(c) for s, c in media.rejected.items()},
        },
        "duplicates": {
            **{s: {"exact_dedup": n} for s, n in expected.exact_duplicates.items()},
            **{s: dict(c) for s, c in media.duplicates.items()},
        },
        "media_kept": dict(media.kept),
        "media_records": dict(media.records),
        "near_duplicates_planted": dict(expected.near_duplicates_planted),
        "languages_planted": dict(expected.languages_planted),
        "contaminated_planted": {"webarc": sorted(crawl.contaminated)},
        "eval": EVAL_SPLIT,
    }
    (root / "expected.json").write_text(json.dumps(counts, indent=2, sort_keys=True))
    return counts
