"""A corpus of real documents nobody on this project wrote, built from Debian packages.

Rules, readers and extractors tuned on the sample generator's pages can look right and
still drift on real text; this corpus is what the agreement tests and the speed
benchmarks run on instead. It holds manual pages in seven languages, GNOME's help pages
in many more, Python's reST documentation, the Debian Reference and FAQ as HTML,
fortune files (quotes, literature, poems, jokes), dictionary entries from GCIDE, and
licence and copyright texts.

The packages come from Debian's archive with `apt-get download` and are unpacked with
`dpkg-deb -x`; the documents are written once as JSON lines into a cache outside the
repository:

    ${POLYMIX_CACHE:-~/.cache/polymix}/real-corpus/<recipe>/documents.jsonl

Build or refresh it by hand with `python benchmarks/real_corpus.py [--force]`; tests
call `documents()`, which builds it the first time (about a minute, ~60 MB of
downloads). Which files become documents is a pure function of the unpacked packages
(sorted paths, a fixed cap per kind and language, chosen by hash), so the same package
versions give the same corpus on every machine; the versions used are recorded in
`packages.txt` beside the documents.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cache_lock import building  # noqa: E402

PACKAGES = (
    "manpages",
    "manpages-de",
    "manpages-fr",
    "manpages-es",
    "manpages-it",
    "manpages-nl",
    "manpages-pl",
    "gnome-user-docs",
    "python3.11-doc",
    "debian-reference-en",
    "debian-reference-de",
    "debian-reference-fr",
    "debian-reference-es",
    "debian-reference-it",
    "debian-faq",
    "fortunes",
    "fortunes-de",
    "fortunes-it",
    "fortunes-es",
    "fortunes-br",
    "dict-gcide",
    "base-files",
)
RECIPE = "v1"  # bump when the selection below changes, so old caches are not reused
MAN_PER_LANGUAGE = 250
HELP_PER_LANGUAGE = 60
FORTUNES_PER_DOCUMENT = 12
FORTUNE_DOCUMENTS_PER_LANGUAGE = 300
DICTIONARY_ENTRIES_PER_DOCUMENT = 8
DICTIONARY_DOCUMENTS = 400
MIN_CHARACTERS = 20


def cache_root() -> Path:
    base = os.environ.get("POLYMIX_CACHE") or Path.home() / ".cache" / "polymix"
    return Path(base) / "real-corpus" / RECIPE


def _chosen(paths: list[Path], cap: int) -> list[Path]:
    """A deterministic sample: the `cap` paths with the smallest hash of their name."""
    ranked = sorted(paths, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    return sorted(ranked[:cap])


def download(packages: tuple[str, ...], into: Path) -> list[str]:
    """Fetch and unpack the packages; returns `name version` lines."""
    debs = into / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["apt-get", "download", "-qq", *packages], cwd=debs, check=True, capture_output=True
    )
    versions = []
    (into / "root").mkdir(exist_ok=True)
    for deb in sorted(debs.glob("*.deb")):
        name, version = deb.name.split("_")[:2]
        versions.append(f"{name} {version.replace('%3a', ':')}")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into / "root" / name)], check=True)
    return versions


def _render_man(path: Path) -> str:
    """A manual page as a terminal shows it (groff), without overstrikes."""
    source = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if shutil.which("groff") is None:
        return re.sub(
            r"^\.[A-Za-z]+ ?|\\f[BIRP]|\\[-&(]|\\\(..",
            "",
            source.decode(errors="replace"),
            flags=re.M,
        )
    env = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"}
    out = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P-c", "-P-b", "-P-u", "-rLL=80n", "-K", "utf8"],
        input=source,
        capture_output=True,
        env=env,
        check=False,
    )
    return out.stdout.decode("utf-8", errors="replace")


def man_pages(root: Path) -> Iterator[dict]:
    for package in sorted(p for p in root.iterdir() if p.name.startswith("manpages")):
        lang = package.name.partition("-")[2] or "en"
        pages = [p for p in (package / "usr/share/man").rglob("*.gz") if "/man" in str(p)]
        for page in _chosen(pages, MAN_PER_LANGUAGE):
            text = _render_man(page)
            yield _doc(f"man/{lang}/{page.name}", text, "man", lang, package.name)


class _HTMLText(html.parser.HTMLParser):
    """Visible text of an HTML page: block elements end lines, scripts and styles dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "pre", "dt", "dd", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in joined.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    return parser.text()


def html_pages(root: Path) -> Iterator[dict]:
    for package in sorted(root.glob("debian-reference-*")) + [root / "debian-faq"]:
        for page in sorted(package.rglob("*.html")):
            lang = page.name.split(".")[-2] if page.name.count(".") >= 2 else "en"
            text = html_text(page.read_text(encoding="utf-8", errors="replace"))
            yield _doc(f"html/{package.name}/{page.name}", text, "html", lang, package.name)


def _mallard_text(path: Path) -> str:
    """Paragraph, title and item text of a Mallard help page, one block per line."""
    try:
        tree = ET.parse(path)
    except ET.ParseError:
        return ""
    blocks = []
    for element in tree.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("title", "p", "code", "desc"):
            text = " ".join("".join(element.itertext()).split())
            if text:
                blocks.append(text)
    return "\n\n".join(blocks)


def help_pages(root: Path) -> Iterator[dict]:
    help_root = root / "gnome-user-docs/usr/share/help"
    for lang_dir in sorted(p for p in help_root.iterdir() if p.is_dir()):
        pages = list(lang_dir.rglob("*.page"))
        for page in _chosen(pages, HELP_PER_LANGUAGE):
            relative = page.relative_to(help_root)
            yield _doc(
                f"help/{relative}", _mallard_text(page), "help", lang_dir.name, "gnome-user-docs"
            )


def python_docs(root: Path) -> Iterator[dict]:
    for page in sorted((root / "python3.11-doc").rglob("*.txt")):
        relative = page.relative_to(root / "python3.11-doc")
        text = page.read_text(encoding="utf-8", errors="replace")
        yield _doc(f"python-doc/{relative}", text, "rst", "en", "python3.11-doc")


def fortunes(root: Path) -> Iterator[dict]:
    langs = {"fortunes": "en", "fortunes-de": "de", "fortunes-it": "it", "fortunes-es": "es"}
    langs["fortunes-br"] = "pt"
    for package, lang in sorted(langs.items()):
        chunks = list(_fortune_chunks(root / package / "usr/share/games/fortunes", lang))
        ranked = sorted(chunks, key=lambda c: hashlib.sha256(c[0].encode()).hexdigest())
        for doc_id, text in sorted(ranked[:FORTUNE_DOCUMENTS_PER_LANGUAGE]):
            yield _doc(doc_id, text, "fortune", lang, package)


def _fortune_chunks(base: Path, lang: str) -> Iterator[tuple[str, str]]:
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.suffix):
        if path.is_symlink():
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        quotes = [q.strip("\n") for q in raw.split("\n%\n") if q.strip()]
        for start in range(0, len(quotes), FORTUNES_PER_DOCUMENT):
            chunk = quotes[start : start + FORTUNES_PER_DOCUMENT]
            yield f"fortune/{lang}/{path.relative_to(base)}#{start}", "\n\n".join(chunk)


def dictionary(root: Path) -> Iterator[dict]:
    """GCIDE entries in groups, read through its dictd index (base64 offsets)."""
    folder = root / "dict-gcide/usr/share/dictd"
    data = gzip.decompress((folder / "gcide.dict.dz").read_bytes())
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def number(text: str) -> int:
        value = 0
        for ch in text:
            value = value * 64 + digits.index(ch)
        return value

    entries = []
    for line in (folder / "gcide.index").read_text(encoding="utf-8").splitlines():
        word, offset, length = line.split("\t")[:3]
        if not word.startswith("00-"):
            entries.append((word, number(offset), number(length)))
    groups = [
        entries[i : i + DICTIONARY_ENTRIES_PER_DOCUMENT]
        for i in range(0, len(entries), DICTIONARY_ENTRIES_PER_DOCUMENT)
    ]
    ranked = sorted(range(len(groups)), key=lambda i: hashlib.sha256(str(i).encode()).digest())
    for index in sorted(ranked[:DICTIONARY_DOCUMENTS]):
        group = groups[index]
        text = "\n\n".join(
            data[o : o + n].decode("utf-8", errors="replace").strip() for _, o, n in group
        )
        yield _doc(f"dictionary/gcide/{group[0][0]}", text, "dictionary", "en", "dict-gcide")


def licences(root: Path) -> Iterator[dict]:
    for path in sorted((root / "base-files/usr/share/common-licenses").iterdir()):
        if path.is_file() and not path.is_symlink():
            yield _doc(
                f"licence/{path.name}",
                path.read_text(errors="replace"),
                "licence",
                "en",
                "base-files",
            )
    for package in sorted(root.iterdir()):
        copyright_file = package / "usr/share/doc" / package.name / "copyright"
        if copyright_file.is_file():
            text = copyright_file.read_text(errors="replace")
            yield _doc(f"copyright/{package.name}", text, "licence", "en", package.name)


EXTRACTORS: tuple[Callable[[Path], Iterator[dict]], ...] = (
    man_pages,
    help_pages,
    python_docs,
    html_pages,
    fortunes,
    dictionary,
    licences,
)


def _doc(doc_id: str, text: str, kind: str, lang: str, package: str) -> dict:
    return {"id": doc_id, "text": text, "kind": kind, "lang": lang, "package": package}


def build(force: bool = False) -> Path:
    """Download, unpack and extract once; returns the cached `documents.jsonl`."""
    target = cache_root()
    documents = target / "documents.jsonl"
    if documents.is_file() and not force:
        return documents
    with building(target):
        if documents.is_file() and not force:
            return documents  # built by another process while this one waited
        return _build(target, documents)


def _build(target: Path, documents: Path) -> Path:
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        versions = download(PACKAGES, Path(scratch))
        root = Path(scratch) / "root"
        partial = target / "documents.jsonl.partial"
        seen: set[str] = set()
        with partial.open("w", encoding="utf-8") as out:
            for extract in EXTRACTORS:
                for doc in extract(root):
                    if len(doc["text"].strip()) >= MIN_CHARACTERS and doc["id"] not in seen:
                        seen.add(doc["id"])
                        out.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
        (target / "packages.txt").write_text("\n".join(versions) + "\n")
        partial.replace(documents)
    return documents


def documents(kinds: tuple[str, ...] | None = None) -> list[dict]:
    """Every document of the corpus (building it first if needed), optionally of some kinds."""
    with build().open(encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    return [d for d in docs if kinds is None or d["kind"] in kinds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args()
    path = build(force=args.force)
    docs = documents()
    by_kind: dict[str, int] = {}
    for doc in docs:
        by_kind[doc["kind"]] = by_kind.get(doc["kind"], 0) + 1
    size = sum(len(d["text"].encode()) for d in docs)
    print(f"{path}: {len(docs)} documents, {size / 1e6:.1f} MB of text")
    for kind, n in sorted(by_kind.items()):
        print(f"  {kind:<12}{n:>6}")


if __name__ == "__main__":
    main()
