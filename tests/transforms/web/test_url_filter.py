"""The URL block list: domains with their subdomains, URL substrings, lists as users write them."""

import pytest

from polymix.transforms.web.url_filter import BlockList, BlockListError, list_entries
from polymix.transforms.web.urls import host_of, registered_domain

BLOCKS = BlockList.of(
    list_entries(
        b"# adult\ncasino.example\n*.tracker.example\nhttps://spam.example.org/x\n\n", "d"
    ),
    list_entries(b"/wp-login\nAffiliate_ID=  # case does not matter\n", "s"),
)


@pytest.mark.parametrize(
    "url, verdict",
    [
        ("https://casino.example/", ("domain", "casino.example")),
        ("http://WWW.Casino.Example:8080/slots", ("domain", "casino.example")),
        ("https://a.b.tracker.example/p", ("domain", "tracker.example")),
        ("https://spam.example.org/other", ("domain", "spam.example.org")),
        ("https://news.example/wp-login.php", ("url_substring", "/wp-login")),
        ("https://shop.example/?AFFILIATE_ID=3", ("url_substring", "affiliate_id=")),
        ("not a url", ("invalid_url", "not a url")),
        ("https://notcasino.example/", None),  # a label, not a suffix of the string
        ("https://casino.example.com/", None),
        ("https://example.org/", None),
    ],
)
def test_verdicts(url, verdict):
    assert BLOCKS.verdict(url) == verdict


def test_an_empty_list_blocks_nothing_and_a_list_counts_its_entries():
    assert BlockList.of([], []).verdict("https://casino.example/") is None
    assert len(BLOCKS) == 5


def test_a_list_that_is_not_utf8_is_named_with_its_line():
    with pytest.raises(BlockListError, match=r"lists/d.txt: line 2 is not UTF-8"):
        list_entries(b"ok.example\nbad\xff.example\n", "lists/d.txt")


def test_hosts_and_registered_domains():
    assert host_of("https://user:pw@WWW.Example.CO.UK.:443/a") == "www.example.co.uk"
    assert host_of("mailto:someone") is None and host_of("http://[::1") is None
    assert registered_domain("blog.example.co.uk") == "example.co.uk"
    assert registered_domain("a.b.github.io") == "b.github.io"  # a public suffix of its own
    assert registered_domain("www.shop.example") == "shop.example"  # unknown suffix: one label
    assert registered_domain("192.168.0.1") == "192.168.0.1"
