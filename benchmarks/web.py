"""WARC reading + HTML extraction: polymix against DataTrove's WarcReader + Trafilatura.

Both read the same WARC of real HTML (`benchmarks/real_web.py`: Debian's documentation sites in
eleven languages and nine charsets) in the same run and extract with trafilatura at the same
settings (favor_precision, no comments, deduplicate off on both: DataTrove's deduplicate shares
one cache across every page a worker sees, which polymix never does). Printed: pages per second
of each (wall clock, reading and extraction together, DataTrove's extractor in its sandbox
process as it runs in production, with a timeout long enough never to fire), their ratio, and
the share of pages whose main text is identical: end to end (each reader decodes the bytes its
own way) and from the same HTML (DataTrove's decoded page given to both extractors). Pages that
differ end to end are listed by record id with both lengths.

    python benchmarks/web.py [--warc WARC]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_web import build  # noqa: E402
from polymix.core.config.web import TrafilaturaConfig, WebSourceConfig  # noqa: E402
from polymix.transforms.example import Example  # noqa: E402
from polymix.transforms.read_text import TextSourceSpec  # noqa: E402
from polymix.transforms.web.extract import make_extractor  # noqa: E402
from polymix.transforms.web.warc import read_warc  # noqa: E402

SETTINGS = WebSourceConfig(trafilatura=TrafilaturaConfig(favor_precision=True, deduplicate=False))


def polymix_texts(warc: bytes) -> dict[str, str]:
    """Record id -> main text, through polymix's reader (fastwarc, charset, trafilatura)."""
    spec = TextSourceSpec("web", "text", "warc", web=SETTINGS)
    out = {}
    for item in read_warc(spec, io.BytesIO(warc), "bench.warc.gz", "bench.warc.gz"):
        if isinstance(item, Example):
            out[f"<{item.id}>"] = item.text or ""
    return out


def datatrove_texts(folder: Path) -> tuple[dict[str, str], dict[str, str], float]:
    """DataTrove's WarcReader (warcio, cchardet) then Trafilatura: texts, the HTML, seconds."""
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    start = time.perf_counter()
    docs = list(WarcReader(str(folder), glob_pattern="*.warc.gz").run())
    html = {doc.id: doc.text for doc in docs}
    extractor = Trafilatura(favour_precision=True, deduplicate=False, timeout=600)
    texts = {doc.id: doc.text for doc in extractor.run(iter(docs))}
    return texts, html, time.perf_counter() - start


def _same_share(ours: dict[str, str], theirs: dict[str, str]) -> tuple[float, list[str]]:
    keys = sorted(set(ours) | set(theirs))
    differing = [k for k in keys if ours.get(k) != theirs.get(k)]
    return 1 - len(differing) / len(keys), differing


def compare(warc_path: Path) -> dict[str, float]:
    warc = warc_path.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pages.warc.gz").write_bytes(warc)
        theirs, their_html, their_s = datatrove_texts(Path(folder))
    start = time.perf_counter()
    ours = polymix_texts(warc)
    our_s = time.perf_counter() - start
    end_to_end, differing = _same_share(ours, theirs)
    for key in differing[:20]:
        print(
            f"  end to end, differs: {key} ours={len(ours.get(key) or '')} chars, theirs="
            f"{len(theirs.get(key) or '')} chars"
        )
    extract = make_extractor(SETTINGS)
    same_html = {k: t for k, t in ((k, extract(h)) for k, h in their_html.items()) if t}
    extraction, _ = _same_share(same_html, theirs)
    return {
        "pages": len(set(ours) | set(theirs)),
        "polymix_pages_per_s": len(ours) / our_s,
        "datatrove_pages_per_s": len(theirs) / their_s,
        "ratio": (len(ours) / our_s) / (len(theirs) / their_s),
        "agreement": end_to_end,
        "extraction_agreement": extraction,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warc", type=Path, help="another WARC to compare on")
    args = parser.parse_args()
    path = args.warc or build()
    result = compare(path)
    print(
        f"{path.name}: {result['pages']} pages; polymix {result['polymix_pages_per_s']:.1f} "
        f"pages/s, DataTrove {result['datatrove_pages_per_s']:.1f} pages/s: "
        f"{result['ratio']:.2f}x; same main text on {100 * result['agreement']:.1f}% of pages "
        f"end to end, on {100 * result['extraction_agreement']:.1f}% from the same HTML"
    )


if __name__ == "__main__":
    main()
