"""A web archive of real HTML nobody on this project wrote, built from Debian's documentation.

Python's HTML documentation, the Debian Reference, the Debian FAQ and the Debian Administrator's
Handbook in eleven languages are whole web sites: navigation bars, sidebars, search boxes,
scripts, footers and long articles, written by people and tools other than ours. Each page is
served the way real servers serve pages: in a charset that suits its language (UTF-8,
windows-1252, ISO-8859-2 and -7, KOI8-R, Shift_JIS, GBK, EUC-KR, windows-1254), declared in the
HTTP header, in its `<meta>` tag, in both, or (for some UTF-8 and windows-1252 pages) nowhere,
with the page's own declarations rewritten to match. Nothing of a page's text is changed:
characters a charset lacks become HTML character references, as editors save them.

The packages come from Debian's archive (`apt-get download`, `dpkg-deb -x`, as in
`benchmarks/real_corpus.py`); the WARC is written once into a cache outside the repository:

    ${POLYMIX_CACHE:-~/.cache/polymix}/real-web/<recipe>/debian-html.warc.gz

with `pages.jsonl` (URL, language, charset, where it is declared) and `packages.txt` (versions)
beside it. Which pages are taken is a pure function of the unpacked packages (sorted paths, a
cap per site and language, chosen by hash), so the same versions give the same archive.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cache_lock import building  # noqa: E402
from benchmarks.real_corpus import download  # noqa: E402
from polymix.sample.warc import Response, html_headers, warc_file  # noqa: E402

PACKAGES = ("python3.11-doc", "debian-reference-en", "debian-faq", "debian-handbook")
RECIPE = "v1"
DATE = "2024-03-04T10:20:30Z"
PYTHON_PAGES = 160
HANDBOOK_PAGES_PER_LANGUAGE = 24
HANDBOOK_CHARSETS = {  # language -> (Python codec, label a server would send)
    "en-US": ("utf-8", "UTF-8"),
    "de-DE": ("cp1252", "ISO-8859-1"),  # read as windows-1252, as browsers do
    "fr-FR": ("cp1252", "windows-1252"),
    "es-ES": ("cp1252", "windows-1252"),
    "pl-PL": ("iso8859_2", "ISO-8859-2"),
    "el-GR": ("iso8859_7", "ISO-8859-7"),
    "tr-TR": ("cp1254", "windows-1254"),
    "ru-RU": ("koi8_r", "KOI8-R"),
    "ja-JP": ("shift_jis", "Shift_JIS"),
    "zh-CN": ("gbk", "GBK"),
    "ko-KR": ("euc_kr", "EUC-KR"),
}
DECLARATIONS = ("http", "meta", "both")
_XML_ENCODING = re.compile(r"(<\?xml[^>]*encoding=[\"'])[^\"']+([\"'])", re.IGNORECASE)
_META_CHARSET = re.compile(r"(<meta[^>]*charset=[\"']?)[A-Za-z0-9_.:-]+", re.IGNORECASE)
_META_TAG = re.compile(r"<meta[^>]*charset=[^>]*>", re.IGNORECASE)


def cache_root() -> Path:
    base = os.environ.get("POLYMIX_CACHE") or Path.home() / ".cache" / "polymix"
    return Path(base) / "real-web" / RECIPE


def _rank(path: Path) -> str:
    return hashlib.sha256(str(path.name).encode()).hexdigest()


def _chosen(paths: list[Path], cap: int) -> list[Path]:
    return sorted(sorted(paths, key=_rank)[:cap])


def _site_pages(root: Path) -> list[tuple[str, Path, str, str, str]]:
    """(url, file, language, codec, label) for every page taken."""
    pages = []
    python = root / "python3.11-doc/usr/share/doc/python3.11/html"
    for page in _chosen(list(python.rglob("*.html")), PYTHON_PAGES):
        url = f"https://docs.python.org/3.11/{page.relative_to(python)}"
        pages.append((url, page, "en", "utf-8", "utf-8"))
    reference = root / "debian-reference-en/usr/share/debian-reference"
    for page in sorted(reference.glob("*.en.html")):
        url = f"https://www.debian.org/doc/manuals/debian-reference/{page.name}"
        pages.append((url, page, "en", "cp1252", "windows-1252"))
    faq = root / "debian-faq/usr/share/doc/debian/FAQ"
    for page in sorted(faq.rglob("*.html")):
        pages.append((f"https://www.debian.org/doc/manuals/debian-faq/{page.name}", page, "en"))
        pages[-1] += ("utf-8", "UTF-8")
    handbook = root / "debian-handbook/usr/share/doc/debian-handbook/html"
    for language, (codec, label) in HANDBOOK_CHARSETS.items():
        for page in _chosen(
            list((handbook / language).glob("*.html")), HANDBOOK_PAGES_PER_LANGUAGE
        ):
            url = f"https://debian-handbook.info/browse/{language}/stable/{page.name}"
            pages.append((url, page, language, codec, label))
    return pages


def served(markup: str, codec: str, label: str, declared: str) -> tuple[bytes, str]:
    """The page's bytes in `codec` with its declarations rewritten, and its Content-Type."""
    markup = _XML_ENCODING.sub(lambda m: f"{m.group(1)}{label}{m.group(2)}", markup)
    if declared == "http":
        markup = _META_TAG.sub("", markup)
    else:
        markup = _META_CHARSET.sub(lambda m: f"{m.group(1)}{label}", markup)
    if declared == "none":
        markup = _META_TAG.sub("", markup)
    body = markup.encode(codec, errors="xmlcharrefreplace")
    header = f"text/html; charset={label}" if declared in ("http", "both") else "text/html"
    return body, header


def _declaration(url: str, codec: str) -> str:
    choice = int(hashlib.sha256(url.encode()).hexdigest(), 16)
    if codec in ("utf-8", "cp1252") and choice % 7 == 0:
        return "none"  # left to detection
    return DECLARATIONS[choice % len(DECLARATIONS)]


def build(force: bool = False) -> Path:
    """Download, unpack and write the archive once; returns the cached WARC's path."""
    target = cache_root()
    archive = target / "debian-html.warc.gz"
    if archive.is_file() and not force:
        return archive
    with building(target):
        if archive.is_file() and not force:
            return archive  # built by another process while this one waited
        return _build(target, archive)


def _build(target: Path, archive: Path) -> Path:
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        versions = download(PACKAGES, Path(scratch))
        responses, rows = [], []
        for url, path, language, codec, label in _site_pages(Path(scratch) / "root"):
            declared = _declaration(url, codec)
            markup = path.read_text(encoding="utf-8", errors="replace")
            body, content_type = served(markup, codec, label, declared)
            responses.append(
                Response(url, body, DATE, headers=html_headers(content_type, body, DATE))
            )
            rows.append({"url": url, "language": language, "codec": codec, "declared": declared})
        partial = target / "debian-html.warc.gz.partial"
        partial.write_bytes(warc_file(archive.name, responses, DATE))
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        (target / "pages.jsonl").write_text(lines)
        (target / "packages.txt").write_text("\n".join(versions) + "\n")
        partial.replace(archive)
    return archive


def pages() -> list[dict]:
    build()
    return [json.loads(line) for line in (cache_root() / "pages.jsonl").read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args()
    path = build(force=args.force)
    rows = pages()
    print(f"{path}: {len(rows)} pages, {path.stat().st_size / 1e6:.1f} MB")
    by_codec: dict[str, int] = {}
    for row in rows:
        by_codec[row["codec"]] = by_codec.get(row["codec"], 0) + 1
    for codec, n in sorted(by_codec.items()):
        print(f"  {codec:<12}{n:>6}")


if __name__ == "__main__":
    main()
