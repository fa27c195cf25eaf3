"""The page's record-lengths section: how long each source's shard records are, in positions.

A record is at most `max_seq_len` positions; a document longer than that gives several,
so a peak at the right edge is documents cut to fit, not documents of that length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polymix.report.html import img, table

SCOPE = (
    "Per source in stats.json: languages, top domains and these record lengths; the "
    "attribute histograms above count all sources together."
)


def lengths_section(stats: Mapping[str, Any] | None, png: bytes | None, max_seq_len: int) -> str:
    lengths = (stats or {}).get("record_positions") or {}
    if not lengths or png is None:
        return "<p class=muted>This run's statistics hold no record lengths.</p>"
    rows = [
        (source, h["count"], h["min"], round(h["mean"], 1), h["max"], _full(h, max_seq_len))
        for source, h in sorted(lengths.items())
    ]
    header = ["source", "records", "min", "mean", "max", "in the top bin, if at max_seq_len"]
    note = (
        "<p>Positions per shard record: text tokens, image patches and audio frames together. "
        f"A record holds at most max_seq_len = {max_seq_len:,} positions, so a document "
        "longer than that ends as several records.</p>"
    )
    return note + img(png, "record lengths") + table(header, rows) + f"<p class=muted>{SCOPE}</p>"


def _full(hist: Mapping[str, Any], max_seq_len: int) -> str:
    """The share of records in the last bin when it reaches max_seq_len: mostly documents cut."""
    if hist["max"] < max_seq_len:
        return "-"
    share = hist["records"][-1] / max(hist["count"], 1)
    return f"{share:.1%} ({hist['edges'][-2]:,.0f} to {hist['max']:,})"
