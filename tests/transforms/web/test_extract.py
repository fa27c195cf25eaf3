"""Extraction is a function of the page and the options alone, whatever the worker saw before."""

import trafilatura

from polymix.core.config.web import ResiliparseConfig, TrafilaturaConfig, WebSourceConfig
from polymix.sample import web_archive
from polymix.transforms.web.extract import make_extractor

SHARED = (
    "Our newsletter brings the week's most important stories to your inbox every Friday "
    "morning, together with the photographs our readers sent us and the events of the weekend."
)


def _page(i: int) -> str:
    paragraphs = [f"Story {i} begins with the council meeting about bridge number {i} on Monday."]
    paragraphs += [SHARED, f"Residents of street {i} said the repairs would take many weeks."]
    return web_archive.page_html("site.example", f"Story {i}", paragraphs)


def test_the_same_page_gives_the_same_text_after_any_other_pages():
    extract = make_extractor(WebSourceConfig())
    alone = extract(_page(0))
    for i in (1, 2, 0, 0, 0, 3):  # other pages, and this very page again
        extract(_page(i))
    assert extract(_page(0)) == alone and SHARED in alone


def test_trafilaturas_own_cache_would_make_the_text_depend_on_order():
    """What a cache shared by all pages does (DataTrove's setting): the reason ours is per page."""
    texts = [trafilatura.extract(_page(100), deduplicate=True, favor_precision=True)]
    texts += [
        trafilatura.extract(_page(100), deduplicate=True, favor_precision=True) for _ in range(4)
    ]
    assert SHARED in texts[0] and texts[-1] is None  # a page a worker saw before is dropped


def test_options_reach_the_extractor():
    page = _page(1)
    without = make_extractor(WebSourceConfig())(page)
    with_comments = make_extractor(
        WebSourceConfig(trafilatura=TrafilaturaConfig(include_comments=True))
    )(page)
    assert "Great read" not in without and "Great read" in with_comments
    plain = make_extractor(WebSourceConfig(extractor="resiliparse"))(page)
    everything = make_extractor(
        WebSourceConfig(extractor="resiliparse", resiliparse=ResiliparseConfig(main_content=False))
    )(page)
    assert "uses cookies" not in plain and "uses cookies" in everything
