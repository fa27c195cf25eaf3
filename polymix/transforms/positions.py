"""Which kind of sequence position a record spends: the unit the mixture is planned in.

A training step spends one position per text token (media markers count as text), image
patch or stacked audio frame, so the manifest counts kept data in those units per kind.
"""

from __future__ import annotations

import math

from polymix.transforms import record_codec

TEXT, IMAGE, AUDIO = "text", "image", "audio"


def position_kinds(modality: str, payload: bytes, positions: int) -> dict[str, int]:
    """Positions of one encoded record split by kind; they sum to `positions`."""
    if modality in ("text", "code"):
        return {TEXT: positions}
    record = record_codec.decode(payload)
    kinds = {IMAGE: 0, AUDIO: 0}
    if "patches" in record.arrays:
        kinds[IMAGE] = len(record.arrays["patches"])
    if "mel" in record.arrays:
        kinds[AUDIO] = math.ceil(len(record.arrays["mel"]) / record.fields["stack"])
    kinds[TEXT] = positions - kinds[IMAGE] - kinds[AUDIO]
    return {kind: n for kind, n in kinds.items() if n}
