"""Which kind of sequence position a record spends: the unit the mixture is planned in.

A training step spends one position per text token (media markers count as text), image
patch or stacked audio frame, so the manifest counts kept data in those units per kind.
"""

from __future__ import annotations

from polymix.core import record_codec, record_layout
from polymix.core.record_layout import AUDIO, IMAGE, TEXT

__all__ = ["AUDIO", "IMAGE", "TEXT", "position_kinds"]


def position_kinds(modality: str, payload: bytes, positions: int) -> dict[str, int]:
    """Positions of one encoded record split by kind; they sum to `positions`."""
    if modality in ("text", "code"):
        return {TEXT: positions}
    record = record_codec.decode(payload)
    kinds = record_layout.position_kinds(**record_layout.record_counts(record))
    kinds[TEXT] = positions - kinds[IMAGE] - kinds[AUDIO]
    return {kind: n for kind, n in kinds.items() if n}
