"""HTML to the page's main text with a field library: trafilatura (FineWeb's choice) or resiliparse.

Both are called with the options in `sources[].web`, and nothing else decides the output: no
timeout (a wall clock would make the text depend on the machine; `max_payload_bytes` and
trafilatura's `max_tree_size` bound the work instead) and no cache shared between pages
(trafilatura's `deduplicate` gets a fresh cache per page, so a block is dropped only when it
repeats within that page, whatever else the worker saw before).
"""

from __future__ import annotations

from collections.abc import Callable

from polymix.core.config.web import ResiliparseConfig, TrafilaturaConfig, WebSourceConfig

Extract = Callable[[str], str]


def trafilatura_extractor(options: TrafilaturaConfig) -> Extract:
    from trafilatura import extract
    from trafilatura.deduplication import LRUCache
    from trafilatura.settings import LRU_SIZE

    settings = options.model_dump(exclude={"deduplicate"})

    def run(html: str) -> str:
        dedup = LRUCache(maxsize=LRU_SIZE) if options.deduplicate else False
        text = extract(
            html, output_format="txt", with_metadata=False, deduplicate=dedup, **settings
        )
        return text or ""

    return run


def resiliparse_extractor(options: ResiliparseConfig) -> Extract:
    from resiliparse.extract.html2text import extract_plain_text

    settings = options.model_dump()

    def run(html: str) -> str:
        return extract_plain_text(html, **settings) or ""

    return run


def make_extractor(config: WebSourceConfig) -> Extract:
    """The configured extractor as a function of the page's HTML; "" means no main text."""
    if config.extractor == "resiliparse":
        return resiliparse_extractor(config.resiliparse)
    return trafilatura_extractor(config.trafilatura)
