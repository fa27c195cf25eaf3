"""PII redaction: e-mail addresses, IP addresses and phone numbers replaced by placeholders.

This is a modification, never a rejection: the document stays, the personal data goes, and the
number of replacements is recorded so the report can say how much was redacted. Placeholders
default to Dolma's (`|||EMAIL_ADDRESS|||` ...), which a tokenizer keeps intact and a model learns to
treat as a slot. IP candidates are checked with `ipaddress`, so "999.1.2.3" stays, and by default
only public addresses go (as in FineWeb): 192.168.0.1 in a router manual identifies nobody.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from polymix.transforms.filters.base import Cut, Tags
from polymix.transforms.filters.text import DocView

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
IP = re.compile(f"{_IPV4}|{_IPV6}")
# Cheap scans that must match before the full patterns are worth running on a document.
_IP_HINT = re.compile(r"\d\.\d{1,3}\.\d|[0-9A-Fa-f]:[0-9A-Fa-f]*:")
_PHONE_HINT = re.compile(r"\d{3}[ .-]\d{3}")
# North-American style (555) 123-4567 / 555-123-4567 and international +CC groups, 8+ digits.
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w-])"
)


def _is_ip(candidate: str, public_only: bool) -> bool:
    if candidate.count(":") >= 2 and not re.search(r"[0-9A-Fa-f]{3,}", candidate):
        return False  # times like 12:30:45, not an IPv6 address
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return address.is_global or not public_only


class PII:
    name = "pii"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.cuts: tuple[Cut, ...] = ()

    def tag(self, doc: DocView) -> Tags:
        c = self.config
        text = doc.text
        counts = {"email": 0, "ip": 0, "phone": 0}
        if c.emails and "@" in text:
            text, counts["email"] = EMAIL.subn(c.email_replacement, text)
        if c.ip_addresses and _IP_HINT.search(text):

            def replace_ip(match: re.Match[str]) -> str:
                if not _is_ip(match.group(), c.public_ips_only):
                    return match.group()
                counts["ip"] += 1
                return c.ip_replacement

            text = IP.sub(replace_ip, text)
        if c.phone_numbers and _PHONE_HINT.search(text):
            text, counts["phone"] = PHONE.subn(c.phone_replacement, text)
        modified = {kind: n for kind, n in counts.items() if n}
        return Tags(dict(counts), text=text if modified else None, modified=modified)

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return []
