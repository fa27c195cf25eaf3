"""The `read` section: what one line, one document or one file may cost a worker.

The text readers stream every file in fixed chunks and never hold more than one line
at a time, so these bounds are also the reader's memory bound: a line is at most
`max_line_bytes` (a longer one is skipped as it streams by, only a prefix kept), a
compressed file expands to at most `max_decompressed_bytes` (or `max_expansion_ratio`
times its size), a document's text is at most `max_text_chars`. Whatever goes past a
bound is rejected with a reason and its size, never silently cut, and only
`rejected_prefix_bytes` of it is copied into `rejected/`.

Memory per worker for reading (`transforms/text_stream.py`, `transforms/read_text.py`):
the line splitter holds at most 2 x `max_line_bytes` + 2 MiB; the line (JSONL) or record
(CSV) being parsed adds at most ~8 x `max_line_bytes` (its bytes, its decoded text at up
to 4 bytes a character, the parsed text), ~3 x for ASCII. So ~10 x `max_line_bytes` in
all, whatever the file's size. A text file (`format: text`) holds at most
`max_text_chars` characters (up to 4 bytes each in Python) plus one 1 MiB chunk. Parquet
is decoded 256 rows at a time from 1 MiB reads; an Arrow stream one record batch at a
time (`datasets` writes 1,000 rows a batch; a batch is never read past
`max_decompressed_bytes` for its file), 256 rows of it as Python objects. An xz
decoder may take up to 256 MiB (its dictionary; `xz -9` needs 65 MiB).
"""

from __future__ import annotations

from pydantic import Field

from polymix.core.config.base import Section

# A compressed file may always expand this far, whatever its ratio: small files of very
# repetitive JSON compress far better than a corpus does.
EXPANSION_FLOOR_BYTES = 64 * 2**20


class ReadConfig(Section):
    max_line_bytes: int = Field(
        32 * 2**20,
        ge=1024,
        description="Longest JSONL line or CSV record (bytes, after decompression). A longer "
        "one is rejected as read/line_too_long while it streams past; it is never held in "
        "memory.",
    )
    max_text_chars: int = Field(
        8_000_000,
        ge=1,
        description="Longest document text (characters; a whole file for format text). A "
        "longer one is rejected as read/text_too_long, so no later stage works on an "
        "unbounded text.",
    )
    max_decompressed_bytes: int = Field(
        16 * 2**30,
        ge=1024,
        description="Most bytes one compressed JSONL, CSV or text file may expand to, an "
        "Arrow file may hold, or a Parquet file's row groups hold once decoded. Past it, the "
        "rest of a JSONL, CSV or Arrow file is one read/decompressed_too_large rejection (it "
        "is not read, so its records cannot be counted); each row of a Parquet row group "
        "past it is one.",
    )
    max_expansion_ratio: float = Field(
        50.0,
        ge=0,
        description="A compressed file may expand to at most this many times its size "
        "(and always to 64 MiB): the decompression-bomb guard. Text compresses 3-10x. 0 turns "
        "it off.",
    )
    max_nesting_depth: int = Field(
        400,
        ge=1,
        le=512,
        description="Deepest JSON nesting a line may have; deeper lines are rejected as "
        "read/nesting_too_deep. Checked before parsing, so the outcome never depends on the "
        "worker's stack.",
    )
    max_id_chars: int = Field(
        1024, ge=16, description="Longest id (id_field value); longer is read/invalid_id."
    )
    rejected_prefix_bytes: int = Field(
        4096,
        ge=0,
        description="How much of an input rejected for its size is copied into rejected/.",
    )

    def expansion_limit(self, compressed_bytes: int | None) -> int:
        """Bytes a file of `compressed_bytes` may expand to (None: size unknown or not compressed)."""
        if compressed_bytes is None or self.max_expansion_ratio == 0:
            return self.max_decompressed_bytes
        by_ratio = max(EXPANSION_FLOOR_BYTES, int(self.max_expansion_ratio * compressed_bytes))
        return min(self.max_decompressed_bytes, by_ratio)
