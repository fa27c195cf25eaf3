"""Charset choice for web pages: the order browsers use, lies skipped, labels mapped as browsers map them."""

import codecs

import pytest

from polymix.transforms.web.charset import decode_page, meta_charset

TEXT = "Le café “Chez Zoë” — naïve crème brûlée, 3 €."
RUSSIAN = "Городской совет решил отремонтировать старую библиотеку до начала зимы. " * 3
JAPANESE = "市議会は冬が来る前に古い図書館を改修することを決めました。" * 3


def html(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"


def test_the_http_header_is_believed_first():
    page = html(TEXT).encode("cp1252")
    decoded = decode_page(page, "windows-1252")
    assert (decoded.charset, decoded.found_by) == ("cp1252", "http")
    assert TEXT in decoded.text


def test_iso_8859_1_is_read_as_windows_1252_as_browsers_do():
    page = html(TEXT).encode("cp1252")  # curly quotes and the euro sign live in 0x80-0x9F
    decoded = decode_page(page, "ISO-8859-1")
    assert TEXT in decoded.text
    assert not any("\x80" <= ch <= "\x9f" for ch in decoded.text)


@pytest.mark.parametrize(
    "head",
    [
        '<meta charset="koi8-r">',
        "<meta http-equiv='Content-Type' content='text/html; charset=KOI8-R'>",
    ],
)
def test_a_meta_declaration_is_used_when_the_header_has_none(head):
    decoded = decode_page(html(RUSSIAN, head).encode("koi8_r"))
    assert (decoded.charset, decoded.found_by) == ("koi8-r", "meta") and RUSSIAN in decoded.text


def test_a_declaration_that_does_not_decode_is_skipped():
    page = html(JAPANESE, '<meta charset="shift_jis">').encode("shift_jis")
    decoded = decode_page(page, "utf-8")  # the server lies
    assert decoded.found_by == "meta" and JAPANESE in decoded.text


def test_a_byte_order_mark_wins_over_every_declaration():
    page = codecs.BOM_UTF8 + html(TEXT, '<meta charset="windows-1252">').encode("utf-8")
    decoded = decode_page(page, "iso-8859-1")
    assert (
        decoded.found_by == "bom" and TEXT in decoded.text and not decoded.text.startswith("\ufeff")
    )
    utf16 = codecs.BOM_UTF16_LE + html(TEXT).encode("utf-16-le")
    assert TEXT in decode_page(utf16).text


def test_undeclared_pages_are_utf8_or_detected():
    assert decode_page(html(TEXT).encode("utf-8")).found_by == "utf-8"
    decoded = decode_page(html(RUSSIAN).encode("cp1251"))
    assert decoded.found_by == "detected" and RUSSIAN in decoded.text


def test_meta_beyond_the_prescan_window_is_not_read():
    late = html("x" * 2000 + '<meta charset="koi8-r">')
    assert meta_charset(late.encode()) is None
    assert meta_charset(b'<meta charset="utf-16">') == "utf-8"  # readable as ASCII: not UTF-16


def test_bytes_that_nothing_decodes_are_replaced_not_raised():
    decoded = decode_page(b"<p>\xff\xfe\xfa broken \x81\x8d</p>", "utf-8")
    assert "broken" in decoded.text


def test_the_header_wins_over_a_meta_tag_that_also_decodes():
    page = html(RUSSIAN, '<meta charset="koi8-r">').encode("cp1251")  # every byte is KOI8-R too
    decoded = decode_page(page, "windows-1251")
    assert (decoded.charset, decoded.found_by) == ("cp1251", "http") and RUSSIAN in decoded.text
