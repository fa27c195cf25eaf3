"""The URL filter, decontamination and domain counts as Beam stages, on DirectRunner."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import apache_beam as beam
import pytest

from polymix.core.config.decontaminate import DecontaminateConfig
from polymix.core.config.web import UrlFilterConfig
from polymix.core.errors import UserFacingError
from polymix.pipelines import decontaminate as decont
from polymix.pipelines.decontaminate import Decontaminate
from polymix.pipelines.domains import TopDomains
from polymix.pipelines.url_filter import UrlFilter, check_block_lists
from polymix.transforms.example import Example, Rejection

QUESTION = (
    "Which gas do green plants absorb from the atmosphere during photosynthesis to build sugars?"
)
ANSWER = "Green plants absorb carbon dioxide from the air and turn it into glucose and oxygen."
FILLER = "The weather in the valley stayed calm for most of the spring, and farmers planted early."


def _run(build, path: Path, names=("kept", "rejected")) -> tuple[dict, dict[str, int]]:
    pipeline = beam.Pipeline()
    outputs = build(pipeline)
    for name in names:
        _ = (
            outputs[name]
            | f"Gather{name}" >> beam.combiners.ToList()
            | f"Dump{name}"
            >> beam.Map(lambda v, p: Path(p).write_bytes(pickle.dumps(v)), str(path / name))
        )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        f"{c.key.metric.namespace}/{c.key.metric.name}": c.committed
        for c in result.metrics().query()["counters"]
    }
    return {n: pickle.loads((path / n).read_bytes()) for n in names}, counters


def _page(i: str, text: str, url: str | None = None, web_url: str | None = None) -> Example:
    original = {"url": url} if url else {}
    attributes = {"web": {"url": web_url}} if web_url else {}
    return Example("crawl", i, "text", text=text, original=original, attributes=attributes)


def test_url_filter_blocks_listed_domains_and_substrings_of_any_source(tmp_path):
    (tmp_path / "domains.txt").write_text("# blocked\ncasino.example\n")
    (tmp_path / "subs.txt").write_text("/wp-login\n")
    config = UrlFilterConfig(blocked_domains=["domains.txt"], blocked_url_substrings=["subs.txt"])
    pages = [
        _page("jsonl-blocked", "x", url="https://www.casino.example/a"),
        _page("warc-blocked", "x", web_url="https://blog.example/wp-login.php"),
        _page("fine", "x", url="https://news.example/a"),
        _page("no-url", "x"),
    ]

    def build(p):
        return p | beam.Create(pages) | UrlFilter(config, lambda path: str(tmp_path / path))

    out, counters = _run(build, tmp_path)
    assert sorted(e.id for e in out["kept"]) == ["fine", "no-url"]
    got = {r.example.id: (r.stage, r.reason, r.detail) for r in out["rejected"]}
    assert got == {
        "jsonl-blocked": ("url_filter", "domain", "casino.example"),
        "warc-blocked": ("url_filter", "url_substring", "/wp-login"),
    }
    assert counters["url_filter/domain"] == counters["url_filter/url_substring"] == 1


def test_a_missing_block_list_fails_at_launch_naming_the_key(tmp_path):
    config = UrlFilterConfig(blocked_domains=["nowhere.txt"])
    with pytest.raises(UserFacingError, match=r"url_filter.blocked_domains\[0\]: .*nowhere.txt"):
        check_block_lists(config, lambda path: str(tmp_path / path))


def _eval_file(tmp_path: Path) -> DecontaminateConfig:
    rows = [{"question": QUESTION, "answer": ANSWER}, {"question": "short one", "answer": "x"}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    return DecontaminateConfig.model_validate(
        {
            "eval_sets": [
                {"name": "qa", "paths": ["qa.jsonl"], "text_fields": ["question", "answer"]}
            ]
        }
    )


def test_decontamination_removes_documents_sharing_an_ngram_and_names_it(tmp_path):
    config = _eval_file(tmp_path)
    twelve = " ".join(ANSWER.split()[:12])
    docs = [_page(f"copy-{i}", f"{FILLER} {QUESTION.lower()} {FILLER}") for i in range(40)]
    docs += [
        _page("answer", f"{FILLER} As the book says, {ANSWER}"),
        _page("twelve-words", f"{FILLER} {twelve}. {FILLER}"),
        _page("clean", FILLER * 3),
        _page("empty", ""),
    ]
    patterns = {"qa": [str(tmp_path / "qa.jsonl")]}

    def build(p):
        return p | beam.Create(docs) | Decontaminate(config, patterns)

    out, counters = _run(build, tmp_path)
    assert sorted(e.id for e in out["kept"]) == ["clean", "empty", "twelve-words"]
    rejected = {r.example.id: r for r in out["rejected"]}
    assert len(rejected) == 41 and all(r.stage == "decontaminate" for r in rejected.values())
    assert all(r.reason == "qa" for r in rejected.values())
    ngram = rejected["answer"].example.attributes["decontaminate"]["ngram"]
    assert len(ngram.split()) == 13 and ngram in ANSWER.lower().replace(".", "")
    assert rejected["answer"].detail == f"qa: {ngram}"
    assert counters["decontaminate/qa"] == 41
    assert counters["decontaminate/eval_invalid_json"] == 2  # one bad line, read once per field


def test_an_eval_set_matching_no_file_fails_at_launch_naming_it(tmp_path):
    config = _eval_file(tmp_path)
    pipeline = beam.Pipeline()
    docs = pipeline | beam.Create([_page("a", FILLER)])
    with pytest.raises(UserFacingError, match=r"eval_sets\(qa\).paths: no file matches"):
        _ = docs | Decontaminate(config, {"qa": [str(tmp_path / "missing-*.jsonl")]})


def test_a_key_is_matched_whatever_order_its_group_arrives_in():
    doc, match = (decont._DOC, ("crawl", "a")), (decont._EVAL, ("qa", "some ngram"))
    assert (
        list(decont._candidates((1, [doc, doc, match])))
        == [(("crawl", "a"), ("qa", "some ngram"))] * 2
    )
    assert list(decont._candidates((1, [doc, doc]))) == []


def test_a_key_collision_never_removes_a_document():
    example = _page("a", FILLER)
    joined = (("crawl", "a"), {"examples": [example], "candidates": [[("qa", "words not in it")]]})
    assert list(decont._verdict(joined)) == [example]


def test_top_domains_counts_pages_kept_and_blocked_per_source(tmp_path):
    pages = [_page(f"n{i}", "x", url=f"https://news{i % 2}.example.com/{i}") for i in range(6)]
    pages += [_page(f"b{i}", "x", web_url=f"https://www.zz.example/{i}") for i in range(2)]
    pages += [
        _page(f"t{i}", "x", web_url=f"https://{name}.example/") for i, name in enumerate("cba")
    ]
    kept = [p for p in pages if p.id in ("n0", "n1", "t0")]
    blocked = [Rejection(p, "url_filter", "domain") for p in pages if p.id.startswith("b")]
    blocked.append(Rejection(pages[2], "c4", "too_few_sentences"))  # not the URL filter's

    def build(p):
        streams = [p | f"C{i}" >> beam.Create(v) for i, v in enumerate((pages, kept, blocked))]
        return {"summary": tuple(streams) | TopDomains(3, "url")}

    out, _ = _run(build, tmp_path, names=("summary",))
    (summary,) = out["summary"]
    assert summary["crawl"]["domains"] == 5
    assert summary["crawl"]["top"] == [
        {"domain": "example.com", "pages": 6, "kept": 2, "blocked": 0},
        {"domain": "zz.example", "pages": 2, "kept": 0, "blocked": 2},
        {"domain": "a.example", "pages": 1, "kept": 0, "blocked": 0},  # ties: by name
    ]
