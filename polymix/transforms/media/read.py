"""Media inputs → `Example`s carrying the encoded bytes, every defect a `Rejection`.

Three layouts: one medium per file (`files`, with an optional caption sidecar),
WebDataset tar shards (`key.jpg` + `key.txt` / `key.json` side by side) and Parquet
with a bytes column. Tar members are read into memory from the stream and never
extracted, so member names cannot write anywhere; links and device entries are
rejected. Every read is bounded by `max_file_bytes` (sidecars by 1 MiB), and a shard
key holds at most one media blob and its sidecars in memory.

What an example carries is safe to write anywhere: ids and names are valid UTF-8
(`strings.safe_name`), captions have no lone surrogates, and `original["file"]` is the
file's id, relative to the source's root, never the path it was opened by.

An image-text pair keeps its text: the caption (the `caption_field` sidecar, else that
key or `caption` in key.json, the key img2dataset writes) and the `url` of key.json
become attributes `caption` / `url` (and `original` fields), and the records carry
them too (`records`). The url is metadata: a key.json that does not parse, or has no
string url, gives none rather than a rejection.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from polymix.transforms.example import Example, Rejection
from polymix.transforms.media.strings import repair_text, safe_name

STAGE = "read"
MAX_MEMBERS = 64  # files per key in a shard; real samples have a handful
MAX_SIDECAR_BYTES = 1 << 20
CAPTION_KEY = "caption"  # key.json's caption when `caption_field` is not one of its keys
URL_KEY = "url"
EXTENSIONS = {
    "image": frozenset({"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"}),
    "audio": frozenset({"wav", "flac", "ogg", "oga", "mp3", "opus", "m4a"}),
    "video": frozenset({"mp4", "mkv", "webm", "mov", "avi", "m4v"}),
}


@dataclass(frozen=True)
class MediaSourceSpec:
    """What a reader needs to know about a media source (a slice of its config)."""

    name: str
    modality: str
    format: str  # files | webdataset | parquet
    max_file_bytes: int
    id_field: str | None = None
    media_field: str = "media"
    caption_field: str | None = None


def _rejection(
    spec: MediaSourceSpec, example_id: str, original: dict[str, Any], reason: str, detail: str
) -> Rejection:
    return Rejection(
        Example(spec.name, example_id, spec.modality, original=original), STAGE, reason, detail
    )


def _read_bounded(handle: IO[bytes], limit: int) -> bytes | None:
    """The stream's bytes, or None when it holds more than `limit`."""
    data = handle.read(limit + 1)
    return None if len(data) > limit else data


def caption_from_sidecar(caption_field: str, ext: str, data: bytes) -> str | None:
    """The caption a sidecar gives: the whole text of `key.<caption_field>`, or the
    `caption_field` key of `key.json`. Raises ValueError on a malformed sidecar."""
    text = data.decode("utf-8")
    if ext == caption_field:
        return text
    fields = json.loads(text)
    value = fields.get(caption_field, fields.get(CAPTION_KEY))
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{caption_field!r} is {type(value).__name__}, not a string")
    return value


def url_from_json(data: bytes | None) -> str | None:
    """key.json's `url` as a safe name, or None (no sidecar, not JSON, no string url)."""
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8")).get(URL_KEY)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return safe_name(value) if isinstance(value, str) and value else None


def _sidecar_caption(caption_field: str, ext: str, data: bytes | None) -> str | None:
    if data is None:
        raise ValueError(f"sidecar larger than {MAX_SIDECAR_BYTES} bytes")
    return caption_from_sidecar(caption_field, ext, data)


def read_media_file(
    spec: MediaSourceSpec,
    opener: Callable[[str], IO[bytes]],
    path: str,
    file_id: str,
    size: int | None,
) -> Iterator[Example | Rejection]:
    """One file, one example; a caption sidecar (key.txt / key.json) is read if configured.

    `path` opens the file; `file_id` (relative to the source's root) names it, in the
    id and in `original`, so outputs do not depend on where the corpus lies.
    """
    file_id = safe_name(file_id)
    original: dict[str, Any] = {"file": file_id}
    if size is not None and size > spec.max_file_bytes:
        yield _rejection(spec, file_id, original, "file_too_large", f"{size} bytes")
        return
    try:
        with opener(path) as handle:
            data = _read_bounded(handle, spec.max_file_bytes)
    except Exception as exc:
        yield _rejection(spec, file_id, original, "unreadable_file", repr(exc))
        return
    if data is None:
        yield _rejection(spec, file_id, original, "file_too_large", f"> {spec.max_file_bytes}")
        return
    caption = url = None
    if spec.caption_field:
        stem = path.rsplit(".", 1)[0] if "." in posixpath.basename(path) else path
        for ext in dict.fromkeys([spec.caption_field, "json"]):
            try:
                with opener(f"{stem}.{ext}") as handle:
                    side = _read_bounded(handle, MAX_SIDECAR_BYTES)
            except Exception:  # no sidecar: no caption
                continue
            try:
                caption = _sidecar_caption(spec.caption_field, ext, side)
            except (ValueError, UnicodeDecodeError, AttributeError) as exc:
                yield _rejection(spec, file_id, original, "invalid_caption", f"{ext}: {exc}")
                return
            url = url_from_json(side) if ext == "json" else None
            break
    yield _media_example(spec, file_id, original, data, caption, url)


def _media_example(
    spec: Any,
    example_id: str,
    original: dict,
    data: bytes,
    caption: str | None,
    url: str | None = None,
) -> Example:
    """The example every reader yields: media bytes, the caption as text, caption and url
    as attributes and in `original`; a caption's lone surrogates are replaced (counted in
    `caption_repairs`)."""
    attributes: dict[str, Any] = {}
    if caption is not None:
        caption, repairs = repair_text(caption)
        original["caption"] = attributes["caption"] = caption
        if repairs:
            original["caption_repairs"] = repairs
    if url is not None:
        original["url"] = attributes["url"] = url
    original["bytes"] = len(data)
    return Example(
        spec.name,
        example_id,
        spec.modality,
        text=caption,
        original=original,
        attributes=attributes,
        media=data,
    )


def _split_member(name: str) -> tuple[str, str]:
    """WebDataset's convention: the key is the path up to the first dot of the file name."""
    directory, base = posixpath.split(name)
    stem, _, ext = base.partition(".")
    return posixpath.join(directory, stem), ext.lower()


class _Group:
    """One key's members while the shard streams past: at most one media blob (the
    first media extension in sorted order, as `sorted` would pick at the end), the
    caption sidecar and key.json are held; other members are only named."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.exts: list[str] = []
        self.count = 0
        self.media_ext: str | None = None
        self.media: bytes | None = None  # None: over max_file_bytes
        self.sidecars: dict[str, bytes | None] = {}  # None: over MAX_SIDECAR_BYTES

    def add(self, spec: MediaSourceSpec, ext: str, size: int, read: Callable[[], bytes]) -> None:
        self.count += 1
        if len(self.exts) < MAX_MEMBERS:
            self.exts.append(ext)
        if self.count > MAX_MEMBERS:
            return
        if ext.rsplit(".", 1)[-1] in EXTENSIONS[spec.modality]:
            if self.media_ext is None or ext < self.media_ext:
                self.media_ext = ext
                self.media = read() if size <= spec.max_file_bytes else None
        elif ext in (spec.caption_field, "json"):
            self.sidecars[ext] = read() if size <= MAX_SIDECAR_BYTES else None


def read_webdataset(
    spec: MediaSourceSpec, raw: IO[bytes], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    """A tar shard (plain, .gz, .bz2, .xz), streamed: one example per key.

    Names are decoded as UTF-8 whatever the worker's locale, undecodable bytes
    escaped (`strings.safe_name`), so a shard gives the same ids on every machine.
    """
    file_id = safe_name(file_id)
    seen: set[str] = set()
    group: _Group | None = None
    count = 0
    try:
        with tarfile.open(
            fileobj=raw, mode="r|*", encoding="utf-8", errors="surrogateescape"
        ) as tar:
            for member in tar:
                if member.isdir():
                    continue
                name = safe_name(member.name)
                key, ext = _split_member(name)
                if not member.isfile():
                    if group is not None:  # a link breaks the run of its key's members
                        count += 1
                        yield from _group_example(spec, group, file_id, seen)
                        group = None
                    count += 1
                    kind = "link" if member.issym() or member.islnk() else "special"
                    yield _rejection(
                        spec,
                        f"{file_id}/{name}",
                        {"file": file_id, "member": name},
                        f"tar_{kind}_member",
                        f"type {member.type!r}",
                    )
                    continue
                if group is None or key != group.key:
                    if group is not None:
                        count += 1
                        yield from _group_example(spec, group, file_id, seen)
                    group = _Group(key)
                group.add(spec, ext, member.size, lambda m=member: _member_bytes(tar, m))
            if tar.fileobj.tell() != tar.offset + tarfile.BLOCKSIZE:
                # tarfile stops quietly at a cut header; only the end marker proves the end
                raise tarfile.ReadError("no end-of-archive marker: the shard is truncated")
            if group is not None:
                count += 1
                yield from _group_example(spec, group, file_id, seen)
    except Exception as exc:  # corrupt or truncated archive: account for the rest of the file
        yield _rejection(
            spec, f"{file_id}:file", {"file": file_id}, "unreadable_file", f"after {count}: {exc!r}"
        )
        return
    if count == 0:
        yield _rejection(spec, f"{file_id}:file", {"file": file_id}, "empty_file", "no members")


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    return handle.read() if handle is not None else b""


def _group_example(
    spec: MediaSourceSpec, group: _Group, file_id: str, seen: set[str]
) -> Iterator[Example | Rejection]:
    example_id = f"{file_id}/{group.key}"
    original: dict[str, Any] = {"file": file_id, "key": group.key, "members": sorted(group.exts)}
    if group.key in seen:
        yield _rejection(spec, example_id, original, "repeated_key", "key appears twice")
        return
    seen.add(group.key)
    if group.count > MAX_MEMBERS:
        detail = f"{group.count} members > {MAX_MEMBERS}"
        yield _rejection(spec, example_id, original, "too_many_members", detail)
        return
    if group.media_ext is None:
        yield _rejection(spec, example_id, original, "no_media_member", "no media extension")
        return
    if group.media is None:
        yield _rejection(spec, example_id, original, "file_too_large", group.media_ext)
        return
    caption = None
    if spec.caption_field:
        for ext in dict.fromkeys([spec.caption_field, "json"]):
            if ext not in group.sidecars:
                continue
            try:
                caption = _sidecar_caption(spec.caption_field, ext, group.sidecars[ext])
            except (ValueError, UnicodeDecodeError, AttributeError) as exc:
                yield _rejection(spec, example_id, original, "invalid_caption", f"{ext}: {exc}")
                return
            break
    url = url_from_json(group.sidecars.get("json"))
    yield _media_example(spec, example_id, original, group.media, caption, url)


def read_media_parquet(
    spec: MediaSourceSpec, raw: IO[bytes], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    """One example per row of the bytes column; small batches bound the memory."""
    import pyarrow.parquet as pq

    file_id = safe_name(file_id)
    row = 0
    try:
        table_file = pq.ParquetFile(raw)
        names = set(table_file.schema_arrow.names)
        if spec.media_field not in names:
            yield _rejection(
                spec, f"{file_id}:file", {"file": file_id}, "missing_media_field", spec.media_field
            )
            return
        columns = [c for c in (spec.media_field, spec.id_field, spec.caption_field) if c in names]
        for batch in table_file.iter_batches(batch_size=16, columns=sorted(set(columns))):
            for obj in batch.to_pylist():
                yield _parquet_row(spec, obj, file_id, row)
                row += 1
    except Exception as exc:
        yield _rejection(
            spec,
            f"{file_id}:file",
            {"file": file_id},
            "unreadable_file",
            f"after row {row}: {exc!r}",
        )
        return
    if row == 0:
        yield _rejection(spec, f"{file_id}:file", {"file": file_id}, "empty_file", "no rows")


def _row_id(value: Any, fallback: str) -> str:
    """A row's own id as valid text: bytes decoded as UTF-8 (odd bytes escaped)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if value is None or value == "":
        return fallback
    return safe_name(str(value))


def _parquet_row(
    spec: MediaSourceSpec, obj: dict[str, Any], file_id: str, row: int
) -> Example | Rejection:
    example_id = f"{file_id}:{row}"
    if spec.id_field:
        example_id = _row_id(obj.get(spec.id_field), example_id)
    original: dict[str, Any] = {"file": file_id, "row": row}
    caption = obj.get(spec.caption_field) if spec.caption_field else None
    if caption is not None and not isinstance(caption, str):
        return _rejection(spec, example_id, original, "invalid_caption", type(caption).__name__)
    if caption is not None:  # a rejected row keeps its caption too
        original["caption"] = repair_text(caption)[0]
    data = obj.get(spec.media_field)
    if data is None:
        return _rejection(spec, example_id, original, "missing_media_field", spec.media_field)
    if not isinstance(data, bytes):
        return _rejection(spec, example_id, original, "media_not_bytes", type(data).__name__)
    if len(data) > spec.max_file_bytes:
        return _rejection(spec, example_id, original, "file_too_large", f"{len(data)} bytes")
    return _media_example(spec, example_id, original, data, caption)
