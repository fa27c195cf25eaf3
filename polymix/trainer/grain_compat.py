"""The private grain names the trainer relies on, in one place (grain is pinned at 0.2.18).

grain's private modules change without notice between releases; when an upgrade moves
one, this file is the only import to repair, and `tests/test_import_floors.py` keeps
private names from spreading elsewhere.

`dataset_and_key_of_next_element(k, proportions)` is the index arithmetic of
`grain.MapDataset.mix`: which source gives element `k` of the mixed sequence, and its
index there. The trainer reproduces grain's mix order without building grain's dataset.
"""

from __future__ import annotations

from grain._src.python.dataset.transformations.mix import (
    _dataset_and_key_of_next_element as dataset_and_key_of_next_element,
)

__all__ = ["dataset_and_key_of_next_element"]
