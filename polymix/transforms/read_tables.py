"""Columnar files row by row: Parquet, and the Arrow files HuggingFace `datasets` writes.

Both decode in small batches and count what they cannot decode row by row wherever
the file says how many rows a damaged block holds:

- Parquet: row group by row group, streamed in 1 MiB reads without pre-buffering, 256
  rows turned into Python objects at a time. A row group that cannot be decoded costs
  one `unreadable_row` per row (the footer says how many); a row group past the file's
  `read.max_decompressed_bytes` is not decoded (one `decompressed_too_large` per row);
  a file without a readable footer is one `unreadable_file`.
- `hf_arrow`: the `data-0000k-of-0000n.arrow` files of a `Dataset.save_to_disk` folder
  (or any Arrow IPC *stream*, as `datasets` caches are), record batch by record batch
  (`datasets` writes 1,000 rows a batch). A batch is held whole while its rows are
  turned into objects 256 at a time. The file is read through `BoundedReader`: pyarrow
  asks for a batch's body in one read of its stated length, which is refused before
  anything is allocated once the file's bytes would pass `read.max_decompressed_bytes`,
  so a worker never holds more than that for one file (the rest, whose rows cannot be
  counted, is one `decompressed_too_large`). A batch whose buffers were compressed in
  the file and decode past the allowance is one `decompressed_too_large` per row. A
  stream has no footer, so a damaged or truncated batch leaves a rest whose rows cannot
  be counted: one `unreadable_file` from that row on. Struct columns arrive as nested
  objects, so `text_field: meta.body` reaches them.

Default ids are `<file id>:<row>`, rows counted from 0 through the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from polymix.transforms.read_objects import (
    Item,
    Opener,
    TextSourceSpec,
    file_rejection,
    isolated_object,
    row_rejections,
)
from polymix.transforms.read_streams import clean_error

BATCH_ROWS = 256
PARQUET_READ_BUFFER = 1 << 20


def _rows(spec: TextSourceSpec, batch: Any, first_row: int, file_id: str) -> Iterator[Item]:
    """A decoded batch's rows as examples, `BATCH_ROWS` Python objects at a time."""
    for start in range(0, batch.num_rows, BATCH_ROWS):
        for offset, obj in enumerate(batch.slice(start, BATCH_ROWS).to_pylist()):
            row = first_row + start + offset
            yield isolated_object(spec, obj, f"{file_id}:{row}", file_id, {"row": row})


def _row_group(
    spec: TextSourceSpec, table_file: Any, group: int, first_row: int, file_id: str
) -> Iterator[Item]:
    rows = table_file.metadata.row_group(group).num_rows
    done = 0
    try:
        for batch in table_file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
            for item in _rows(spec, batch, first_row + done, file_id):
                yield item
                done += 1
    except Exception as exc:  # a damaged row group: its rows are known, so each is counted
        detail = f"row group {group}: {type(exc).__name__}: {exc}"
        yield from row_rejections(
            spec, file_id, range(first_row + done, first_row + rows), "unreadable_row", detail
        )


def read_parquet(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """Row group by row group; a row group bigger than the file's allowance is not decoded."""
    import pyarrow.parquet as pq

    try:
        # Streamed column chunks (1 MiB reads, no pre-buffering): memory is one batch of rows
        # and a page per column, not a whole row group.
        table_file = pq.ParquetFile(raw, buffer_size=PARQUET_READ_BUFFER, pre_buffer=False)
        metadata = table_file.metadata
    except Exception as exc:  # no readable footer: the rows cannot even be counted
        yield file_rejection(spec, file_id, "unreadable_file", clean_error(exc, path, file_id))
        return
    row, spent = 0, 0
    allowance = spec.limits.max_decompressed_bytes
    for group in range(metadata.num_row_groups):
        info = metadata.row_group(group)
        rows = range(row, row + info.num_rows)
        if spent + info.total_byte_size > allowance:
            detail = (
                f"row group {group} of {info.total_byte_size} bytes passes "
                f"read.max_decompressed_bytes {allowance} for the file"
            )
            yield from row_rejections(spec, file_id, rows, "decompressed_too_large", detail)
        else:
            spent += info.total_byte_size
            yield from _row_group(spec, table_file, group, row, file_id)
        row += info.num_rows
    if row == 0:
        yield file_rejection(spec, file_id, "empty_file", "no rows in file")


class ReadRefused(OSError):
    """A read that would take the file past its allowance."""


class BoundedReader:
    """`raw` for pyarrow, refusing any read that would pass `allowed` bytes in all."""

    def __init__(self, raw: IO[bytes], allowed: int) -> None:
        self.raw, self.allowed, self.done = raw, allowed, 0
        self.refused = False

    def read(self, size: int | None = -1) -> bytes:
        left = self.allowed - self.done
        whole = size is None or size < 0
        if not whole and size > left:
            self._refuse(f"a read of {size} bytes")
        data = self.raw.read(left + 1 if whole else size)
        if len(data) > left:
            self._refuse("the rest of the file")
        self.done += len(data)
        return data

    def _refuse(self, what: str) -> None:
        self.refused = True
        raise ReadRefused(f"{what} passes read.max_decompressed_bytes {self.allowed}")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.done

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:  # the caller closes `raw`
        pass


def read_hf_arrow(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """Record batch by record batch; what follows a batch that cannot be read is one rejection."""
    import pyarrow as pa

    allowance = spec.limits.max_decompressed_bytes
    bounded = BoundedReader(raw, allowance)
    try:
        stream = pa.ipc.open_stream(bounded)
    except Exception as exc:  # not an Arrow stream at all
        yield file_rejection(spec, file_id, "unreadable_file", clean_error(exc, path, file_id))
        return
    row, spent = 0, 0
    while True:
        try:
            batch = stream.read_next_batch()
        except StopIteration:
            break
        except Exception as exc:  # damaged, cut or too large: the rows after it cannot be counted
            reason = "decompressed_too_large" if bounded.refused else "unreadable_file"
            detail = f"from row {row}: {clean_error(exc, path, file_id)}"
            yield file_rejection(spec, file_id, reason, detail, from_row=row)
            return
        rows = range(row, row + batch.num_rows)
        if spent + batch.nbytes > allowance:
            detail = (
                f"record batch of {batch.nbytes} bytes passes "
                f"read.max_decompressed_bytes {allowance} for the file"
            )
            yield from row_rejections(spec, file_id, rows, "decompressed_too_large", detail)
        else:
            spent += batch.nbytes
            yield from _batch_rows(spec, batch, row, file_id)
        row += batch.num_rows
    if row == 0:
        yield file_rejection(spec, file_id, "empty_file", "no rows in file")


def _batch_rows(spec: TextSourceSpec, batch: Any, first_row: int, file_id: str) -> Iterator[Item]:
    """A batch's rows; one that cannot become Python objects costs one rejection per row."""
    done = 0
    try:
        for item in _rows(spec, batch, first_row, file_id):
            yield item
            done += 1
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        rows = range(first_row + done, first_row + batch.num_rows)
        yield from row_rejections(spec, file_id, rows, "unreadable_row", detail)
