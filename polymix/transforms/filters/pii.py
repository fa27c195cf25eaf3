"""PII redaction: e-mail addresses, IP addresses and phone numbers replaced by placeholders.

This is a modification, never a rejection: the document stays, the personal data goes, and the
number of replacements is recorded so the report can say how much was redacted. Placeholders
default to Dolma's (`|||EMAIL_ADDRESS|||` ...), which a tokenizer keeps intact and a model learns to
treat as a slot.

Redacting what is not personal data teaches a model that years, prices and version numbers are
slots, so every kind is validated, not just matched (`tests/.../test_pii.py` measures precision on
real manuals and documentation):

- IPs (`ip_address`): parsed by `ipaddress`; by default only global unicast host addresses go,
  as in FineWeb (192.168.0.1 in a router manual identifies nobody; multicast groups, networks
  written with a prefix length or ending in "::", ".0" and ".255" are not hosts). A dotted quad
  with three numbers below 20 ("1.2.3.4", "2.4.9.2", section "12.6.2.1") or glued to a name
  ("Firefox/2.0.0.11", "novas-3.1.1.3") is a version, not an address.
- Phone numbers (`phonenumbers`, Google's libphonenumber): numbers written without a country
  code are read in `phone_regions`; a match must be a valid number, grouped as that country
  writes its numbers (so "2014-10-26 01" and "30-172-60-100" are not phones), and written with a
  "+" or in at least two digit groups (a bare "2147483647" is a number, not a phone).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from polymix.core.errors import UserFacingError
from polymix.transforms.filters.base import Cut, Tags
from polymix.transforms.filters.text import DocView

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# Not glued to more of a dotted name ("3.1.1.3.tar.gz") or to a prefix length ("10.0.0.0/8").
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\w|/\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:/])"
IP = re.compile(f"{_IPV4}|{_IPV6}")
# Cheap scans that must match before the full patterns are worth running on a document.
_IP_HINT = re.compile(r"\d\.\d{1,3}\.\d|[0-9A-Fa-f]:[0-9A-Fa-f]*:")
# Phone-shaped runs: digit groups (an area code may sit in brackets) joined by spaces, dots,
# dashes or slashes, or "+" and a run of digits. Only runs holding 7+ digits reach libphonenumber.
PHONE_CANDIDATE = re.compile(
    r"\+?(?:\(\d{1,5}\)|\d{1,5})(?:[ \t.\-/]{1,3}(?:\(\d{1,5}\)|\d{1,5})){1,6}|\+\d{7,15}"
)
_DIGIT_GROUPS = re.compile(r"\d+")
_VERSION_PREFIX = re.compile(r"[A-Za-z][-/]$")
_SMALL = 20


def _is_ipv4_host(candidate: str, before: str) -> bool:
    numbers = [int(part) for part in candidate.split(".")]
    if any(part != str(int(part)) for part in candidate.split(".")):
        return False  # leading zeros: an octal quirk or a code, not how addresses are written
    if sum(number < _SMALL for number in numbers) >= 3 or _VERSION_PREFIX.search(before):
        return False
    return numbers[3] not in (0, 255)


def is_ip(candidate: str, before: str = "", public_only: bool = True) -> bool:
    """True when `candidate` (preceded in the text by `before`) is an address worth redacting."""
    if ":" in candidate:
        if not re.search(r"[0-9A-Fa-f]{3,}", candidate) or candidate.endswith("::"):
            return False  # times like 12:30:45, or a prefix like 2002::
    elif not _is_ipv4_host(candidate, before):
        return False
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return False
    return address.is_global or not public_only


def phone_spans(text: str, regions: list[str]) -> list[tuple[int, int]]:
    """Where valid, conventionally grouped phone numbers are, left to right, not overlapping."""
    from phonenumbers import Leniency, PhoneNumberMatcher

    spans: list[tuple[int, int]] = []
    for candidate in PHONE_CANDIDATE.finditer(text):
        if sum(map(len, _DIGIT_GROUPS.findall(candidate.group()))) < 7:
            continue
        # One character of context each side lets the matcher check what the number touches.
        start, end = max(0, candidate.start() - 1), candidate.end() + 1
        for region in regions:
            for match in PhoneNumberMatcher(text[start:end], region, Leniency.STRICT_GROUPING):
                raw = match.raw_string
                if raw.startswith("+") or len(_DIGIT_GROUPS.findall(raw)) >= 2:
                    spans.append((start + match.start, start + match.end))
    return _disjoint(spans)


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if not out or start >= out[-1][1]:
            out.append((start, end))
    return out


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    pieces, done = [], 0
    for start, end in spans:
        pieces += [text[done:start], placeholder]
        done = end
    return "".join([*pieces, text[done:]])


def _redact_ips(text: str, public_only: bool, placeholder: str, count: Callable[[], None]) -> str:
    def replace(match: re.Match[str]) -> str:
        before = text[max(0, match.start() - 2) : match.start()]
        if not is_ip(match.group(), before, public_only):
            return match.group()
        count()
        return placeholder

    return IP.sub(replace, text)


def _check_regions(regions: list[str]) -> None:
    from phonenumbers import SUPPORTED_REGIONS

    unknown = [region for region in regions if region not in SUPPORTED_REGIONS]
    if unknown:
        raise UserFacingError(
            f"filters.pii.phone_regions: unknown region {unknown[0]!r}; use ISO 3166 codes "
            "such as US, GB, DE, FR, IN"
        )


class PII:
    name = "pii"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.cuts: tuple[Cut, ...] = ()
        if config.phone_numbers:
            _check_regions(config.phone_regions)

    def tag(self, doc: DocView) -> Tags:
        c = self.config
        text = doc.text
        counts = {"email": 0, "ip": 0, "phone": 0}
        if c.emails and "@" in text:
            text, counts["email"] = EMAIL.subn(c.email_replacement, text)
        if c.ip_addresses and _IP_HINT.search(text):

            def count_ip() -> None:
                counts["ip"] += 1

            text = _redact_ips(text, c.public_ips_only, c.ip_replacement, count_ip)
        if c.phone_numbers and c.phone_regions:
            spans = phone_spans(text, list(c.phone_regions))
            counts["phone"] = len(spans)
            text = _replace_spans(text, spans, c.phone_replacement) if spans else text
        modified = {kind: n for kind, n in counts.items() if n}
        return Tags(dict(counts), text=text if modified else None, modified=modified)

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return []
