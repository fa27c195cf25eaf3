"""`polymix tag` on a web archive: every page explained, with the text it judged and its URL."""

import json

from polymix.cli import main
from polymix.sample import web_archive
from polymix.sample.warc import warc_file


def _crawl_file(tmp_path):
    crawl = web_archive.build_crawl(seed=3)
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(warc_file(path.name, crawl.responses, web_archive.CRAWL_DATE))
    return path, crawl


def test_tag_reads_a_warc_and_writes_the_judged_text_and_url(tmp_path):
    path, crawl = _crawl_file(tmp_path)
    out = tmp_path / "tags.jsonl"
    args = ["tag", str(path), "--stages", "gopher_quality", "--with-text", "--output", str(out)]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(crawl.responses)  # every response record, pages or not
    by_url = {row["url"]: row for row in rows}
    assert set(by_url) == {r.url for r in crawl.responses}
    article = by_url["https://www.dailyherald.example/story/0"]
    assert "gopher_quality" in article["attributes"]
    assert article["attributes"]["web"]["domain"] == "dailyherald.example"
    assert "Related articles" not in article["text"] and "cookies" not in article["text"]
    assert len(article["text"].split()) > 50
    missing = by_url["https://www.dailyherald.example/missing"]
    assert (missing["stage"], missing["reason"]) == ("read", "http_status")
    assert "text" not in missing or missing["text"] is None


def test_tag_without_with_text_writes_no_text(tmp_path):
    path, _ = _crawl_file(tmp_path)
    out = tmp_path / "tags.jsonl"
    assert main(["tag", str(path), "--stages", "c4", "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all("text" not in row for row in rows)
    assert all("url" in row for row in rows)


def test_tag_applies_the_configs_url_block_list(tmp_path):
    path, _ = _crawl_file(tmp_path)
    blocked = tmp_path / "domains.txt"
    blocked.write_text("# test list\ncasino-royale-bonus.example\n")
    config = tmp_path / "f.yaml"
    config.write_text(f"url_filter:\n  blocked_domains: [{blocked}]\nfilters: {{}}\n")
    out = tmp_path / "tags.jsonl"
    args = ["tag", str(path), "--config", str(config), "--stages", "c4", "--output", str(out)]
    assert main(args) == 0
    rows = {r["url"]: r for r in map(json.loads, out.read_text().splitlines())}
    casino = rows["https://www.casino-royale-bonus.example/slots/free-spins"]
    assert (casino["stage"], casino["reason"]) == ("url_filter", "domain")
    assert rows["https://news.example.com/story/1"]["stage"] != "url_filter"
