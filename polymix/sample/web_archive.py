"""The demo corpus's web crawl: a WARC and a WET file, a URL block list and an eval set.

Pages look like what a crawler fetches: a cookie banner, navigation, a search form, analytics
scripts and styles, an article with a byline, a related-links sidebar, a comment section and a
footer, served in several charsets (declared in the HTTP header, in a `<meta>` tag, by a
byte-order mark, or not at all). Around the articles are the records a real crawl holds and a
pipeline must account for: redirects and errors, images and PDFs, a page whose content is built
by a script, the same article mirrored on two sites, pages of blocked domains and URLs, pages
quoting an evaluation set verbatim, and pages in Russian and Japanese.
"""

from __future__ import annotations

import html
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from polymix.sample import web_text
from polymix.sample.warc import Response, html_headers, record_id, warc_file, wet_file

CRAWL_DATE = "2024-02-21T05:33:03Z"
SITES = (
    "www.dailyherald.example",
    "news.example.com",
    "blog.gardening.example.org",
    "www.citycouncil.example.gov",
    "travel.example.co.uk",
    "www.science-weekly.example",
)
BLOCKED_DOMAINS = ("casino-royale-bonus.example", "adnetwork.example")
BLOCKED_SUBSTRINGS = ("/wp-login", "affiliate_id=")
EVAL_NAME = "demo_qa"
EVAL_SET = [
    {
        "question": "Which gas do green plants absorb from the atmosphere during photosynthesis "
        "in order to build sugars?",
        "answer": "Green plants absorb carbon dioxide from the atmosphere and use the energy of "
        "sunlight to turn it into glucose and oxygen.",
    },
    {
        "question": "In which year did the first crewed landing on the Moon take place and who "
        "walked on its surface first?",
        "answer": "The first crewed landing on the Moon took place in 1969, when Neil Armstrong "
        "became the first person to walk on its surface.",
    },
    {
        "question": "What is the longest river in Africa and into which sea does it finally "
        "flow after crossing the desert?",
        "answer": "The Nile is the longest river in Africa and it finally flows into the "
        "Mediterranean Sea after crossing the Sahara desert.",
    },
    {
        "question": "Why does a metal spoon feel colder to the touch than a wooden spoon kept "
        "in the same drawer at room temperature?",
        "answer": "Metal conducts heat away from the skin much faster than wood does, so the "
        "metal spoon feels colder although both have the same temperature.",
    },
]
_ACCENTED = (
    "The café’s owner said “it’s a fine day for the market” — and nobody disagreed.",
    "A naïve visitor paid 3 € for a crème brûlée at the stall by the old façade.",
    "Señora Núñez, who runs the bakery, keeps the recipe in a notebook from 1952.",
)
_RUSSIAN = (
    "Городской совет решил отремонтировать старую библиотеку до начала зимы. "
    "Жители собираются каждую субботу на рыночной площади, чтобы обсудить новости. "
    "Эта река протекает через три деревни, прежде чем впадает в море."
)
_JAPANESE = (
    "市議会は冬が来る前に古い図書館を改修することを決めました。"
    "住民は毎週土曜日の朝に市場の広場に集まり、町の出来事について話し合います。"
    "この川は海に注ぐ前に三つの村を流れています。"
)


@dataclass
class Crawl:
    """What the generator planted, so tests can check the pipeline's counts against it."""

    responses: list[Response] = field(default_factory=list)
    wet_pages: list[tuple[str, str, str]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)  # "stage/reason" -> n
    exact_duplicates: int = 0
    contaminated: list[str] = field(default_factory=list)  # page ids

    @property
    def inputs(self) -> int:
        return len(self.responses) + len(self.wet_pages)


def page_id(url: str, kind: str = "response") -> str:
    return record_id(kind, url).strip("<>")


def _charset_tag(how: str, charset: str) -> str:
    if how == "meta":
        return f'<meta charset="{charset}">'
    if how == "http-equiv":
        return f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
    return ""


def page_html(
    site: str, title: str, paragraphs: list[str], *, lang: str = "en", head: str = ""
) -> str:
    """A whole page: the article inside the boilerplate every site wraps around it."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    nav = "".join(
        f'<li><a href="/{item.lower().replace(" ", "-")}">{item}</a></li>'
        for item in ("Home", "News", "Sport", "Culture", "Opinion", "About us", "Contact")
    )
    related = "".join(
        f'<li><a href="/story/{i}">{html.escape(t)}</a></li>'
        for i, t in enumerate(("Ten things to do this weekend", "Readers’ letters", "Weather"))
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
{head}
<title>{html.escape(title)} | {site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/main.3f9a1c.css">
<style>body{{font-family:Georgia,serif}} .nav a{{margin:0 1em}} .cookie{{position:fixed;bottom:0}}</style>
<script async src="https://tags.analytics.example/gtag/js?id=G-7Q2X"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date()); gtag('config', 'G-7Q2X', {{anonymize_ip: true}});</script>
</head>
<body>
<div id="cookie-banner" class="cookie">This website uses cookies to improve your experience.
<button>Accept all</button> <a href="/privacy">Privacy Policy</a></div>
<header class="site-header"><a class="logo" href="/">{site}</a>
<nav class="nav"><ul>{nav}</ul></nav>
<form class="search" action="/search"><input type="search" name="q" placeholder="Search"></form>
</header>
<main>
<article>
<h1>{html.escape(title)}</h1>
<p class="byline">By Staff Reporter · 21 February 2024 · 4 min read</p>
{body}
</article>
<aside class="related"><h2>Related articles</h2><ul>{related}</ul></aside>
<section class="comments"><h3>2 comments</h3>
<div class="comment"><p>Great read, thanks for sharing!</p></div>
<div class="comment"><p>First!</p></div></section>
</main>
<footer><p>Copyright © 2024 {site}. All rights reserved.</p>
<ul><li><a href="/about">About us</a></li><li><a href="/terms">Terms of Use</a></li>
<li><a href="/privacy">Privacy Policy</a></li></ul></footer>
<script>document.querySelectorAll('.nav a').forEach(function (a) {{
  a.addEventListener('click', function () {{ gtag('event', 'nav_click'); }});
}});</script>
</body>
</html>
"""


# (charset the body is encoded with, how it is declared, label used in the declaration)
CHARSET_PLANS = (
    ("utf-8", "http", "utf-8"),
    ("cp1252", "meta", "windows-1252"),
    ("cp1252", "http", "ISO-8859-1"),  # servers mislabel windows-1252 so; browsers read it so
    ("utf-8", "bom", ""),
    ("utf-8", "none", ""),
    ("utf-8", "http-equiv", "UTF-8"),
)


def _encoded(page: str, plan: tuple[str, str, str]) -> tuple[bytes, str]:
    codec, how, label = plan
    if how in ("meta", "http-equiv"):
        page = page.replace("<head>\n", f"<head>\n{_charset_tag(how, label)}\n", 1)
    body = page.encode(codec, errors="xmlcharrefreplace")  # as editors save what a charset lacks
    if how == "bom":
        body = b"\xef\xbb\xbf" + body
    content_type = f"text/html; charset={label}" if how == "http" else "text/html"
    return body, content_type


def _response(url: str, page: str, plan: tuple[str, str, str], **kw) -> Response:
    body, content_type = _encoded(page, plan)
    return Response(
        url, body, CRAWL_DATE, headers=html_headers(content_type, body, CRAWL_DATE), **kw
    )


def _article(rng: random.Random, seed: int) -> tuple[str, list[str]]:
    text = web_text.make_documents("clean", 1, seed=seed)[0]
    paragraphs = [p for p in text.split("\n\n") if len(p.split()) > 6] or [text]
    paragraphs.insert(rng.randrange(len(paragraphs) + 1), rng.choice(_ACCENTED))
    title = paragraphs[0].split(".")[0][:60]
    return title, paragraphs


def _articles(rng: random.Random, crawl: Crawl, n: int) -> None:
    for i in range(n):
        site = SITES[i % len(SITES)]
        title, paragraphs = _article(rng, rng.randrange(2**31))
        if i in (3, 11):  # a page quoting an eval item verbatim, as leaked benchmarks do
            item = EVAL_SET[i % len(EVAL_SET)]
            paragraphs.insert(1, f"{item['question']} {item['answer']}")
            crawl.contaminated.append(page_id(f"https://{site}/story/{i}"))
        page = page_html(site, title, paragraphs)
        plan = CHARSET_PLANS[i % len(CHARSET_PLANS)]
        crawl.responses.append(_response(f"https://{site}/story/{i}", page, plan))
        if i in (0, 7):  # syndicated: the same page on a second site
            crawl.responses.append(_response(f"https://mirror.example.net/{site}/{i}", page, plan))
            crawl.exact_duplicates += 1


def _foreign(crawl: Crawl) -> None:
    ru = page_html("novosti.example.ru", "Новости города", [_RUSSIAN], lang="ru")
    crawl.responses.append(
        _response(
            "https://novosti.example.ru/gorod/1", ru, ("cp1251", "http-equiv", "windows-1251")
        )
    )
    ja = page_html("shinbun.example.jp", "市のニュース", [_JAPANESE], lang="ja")
    crawl.responses.append(
        _response("https://shinbun.example.jp/news/1", ja, ("shift_jis", "http", "Shift_JIS"))
    )


def _blocked(rng: random.Random, crawl: Crawl) -> None:
    urls = [
        ("https://casino-royale-bonus.example/", "domain"),
        ("https://www.casino-royale-bonus.example/slots/free-spins", "domain"),
        ("https://ads.adnetwork.example/landing?id=42", "domain"),
        ("https://news.example.com/wp-login.php?redirect_to=%2Fadmin", "url_substring"),
        ("https://shop.example.net/deals?affiliate_id=77&ref=home", "url_substring"),
    ]
    for url, reason in urls:
        title, paragraphs = _article(rng, rng.randrange(2**31))
        crawl.responses.append(
            _response(url, page_html("site", title, paragraphs), CHARSET_PLANS[0])
        )
        crawl.rejected[f"url_filter/{reason}"] += 1


def _not_pages(crawl: Crawl) -> None:
    date = CRAWL_DATE
    for url, status, reason in (
        ("https://news.example.com/old-story", 301, "Moved Permanently"),
        ("https://www.dailyherald.example/missing", 404, "Not Found"),
        ("https://travel.example.co.uk/busy", 503, "Service Unavailable"),
    ):
        body = f"<html><body><h1>{status} {reason}</h1></body></html>".encode()
        extra = (("Location", "https://news.example.com/new-story"),) if status == 301 else ()
        headers = html_headers("text/html; charset=utf-8", body, date, extra)
        crawl.responses.append(Response(url, body, date, status, reason, headers))
        crawl.rejected["read/http_status"] += 1
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    for url, body, content_type in (
        ("https://news.example.com/images/river.png", png, "image/png"),
        ("https://www.citycouncil.example.gov/minutes.pdf", pdf, "application/pdf"),
    ):
        crawl.responses.append(
            Response(url, body, date, headers=html_headers(content_type, body, date))
        )
        crawl.rejected["read/content_type"] += 1
    app = (
        '<!DOCTYPE html><html><head><title>Shop</title><script src="/app.js"></script></head>'
        '<body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/cart">Cart</a></li>'
        '</ul></nav></header><div id="app"></div></body></html>'
    )
    crawl.responses.append(_response("https://shop.example.net/", app, CHARSET_PLANS[0]))
    crawl.rejected["extract/no_main_text"] += 1


def _wet_pages(rng: random.Random, crawl: Crawl, n: int) -> None:
    """WET text is the whole page's text, menus and footers included, as Common Crawl writes it."""
    for i in range(n):
        title, paragraphs = _article(rng, rng.randrange(2**31))
        text = "\n".join(["Home\nNews\nSport\nContact", title, *paragraphs])
        text += "\nCopyright 2024. All rights reserved.\nPrivacy Policy | Terms of Use"
        crawl.wet_pages.append((f"https://archive.example.org/text/{i}", text, CRAWL_DATE))
    crawl.wet_pages.append(("https://adnetwork.example/text", "Win a prize now.", CRAWL_DATE))
    crawl.rejected["url_filter/domain"] += 1


def build_crawl(seed: int, scale: int = 1) -> Crawl:
    rng = random.Random(seed)
    crawl = Crawl()
    _articles(rng, crawl, 36 * scale)
    _foreign(crawl)
    _blocked(rng, crawl)
    _not_pages(crawl)
    _wet_pages(rng, crawl, 6 * scale)
    return crawl


def write_crawl(root: Path, seed: int, scale: int = 1) -> Crawl:
    """`root/webarc/*.warc.gz`, `root/webarc/*.warc.wet.gz`, `root/blocklist/`, `root/eval/`."""
    crawl = build_crawl(seed, scale)
    (root / "webarc").mkdir(parents=True)
    name = "CC-SAMPLE-20240221-00000.warc.gz"
    (root / "webarc" / name).write_bytes(warc_file(name, crawl.responses, CRAWL_DATE))
    wet = "CC-SAMPLE-20240221-00000.warc.wet.gz"
    (root / "webarc" / wet).write_bytes(wet_file(wet, crawl.wet_pages, CRAWL_DATE))
    (root / "blocklist").mkdir()
    header = "# Blocked domains: one per line; a domain blocks its subdomains too.\n"
    (root / "blocklist" / "domains.txt").write_text(header + "\n".join(BLOCKED_DOMAINS) + "\n")
    header = "# Blocked URL substrings: one per line, matched in the lowercased URL.\n"
    (root / "blocklist" / "url_substrings.txt").write_text(
        header + "\n".join(BLOCKED_SUBSTRINGS) + "\n"
    )
    (root / "eval").mkdir()
    rows = "".join(json.dumps(item) + "\n" for item in EVAL_SET)
    (root / "eval" / f"{EVAL_NAME}.jsonl").write_text(rows)
    return crawl


WEB_SOURCE = {
    "name": "webarc",
    "modality": "text",
    "paths": ["webarc/*.warc.gz", "webarc/*.warc.wet.gz"],
    "format": "warc",
    "weight": 0.2,
}
URL_FILTER = {
    "blocked_domains": ["blocklist/domains.txt"],
    "blocked_url_substrings": ["blocklist/url_substrings.txt"],
}
DECONTAMINATE = {
    "eval_sets": [
        {
            "name": EVAL_NAME,
            "paths": [f"eval/{EVAL_NAME}.jsonl"],
            "text_fields": ["question", "answer"],
        }
    ]
}
