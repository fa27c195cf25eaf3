"""A page's host and registered domain, the keys the URL filter and the domain counts use.

The registered domain ("blog.example.co.uk" -> "example.co.uk") comes from the Public
Suffix List bundled with the `tld` package (pinned, so the same URL gives the same domain
on every machine, and nothing is fetched at run time). A suffix the list does not know is
one label, the list's own default rule (`*`), so "www.shop.example" -> "shop.example"; an
IP address is its own domain.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def host_of(url: str) -> str | None:
    """Lowercased host without port, credentials or trailing dot; None if the URL has none."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    host = (host or "").rstrip(".")
    return host or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registered_domain(host: str) -> str:
    from tld import get_fld

    if _is_ip(host):
        return host
    domain = get_fld(host, fix_protocol=True, fail_silently=True)
    if domain:
        return domain
    return ".".join(host.split(".")[-2:])
