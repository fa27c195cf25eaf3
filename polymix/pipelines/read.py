"""Read one text source: match its globs at run time, read every file, keep every defect.

    globs ─► match ─► distinct paths ─► spread ─► read (line by line, bounded by `read.*`)
                                                    ├► (position, example) ─► UniqueIds ─► examples
                                                    └► rejected ◄──────────── duplicate_id

File ids, which default ids and `original.file` are made of, are a file's path
relative to its source's root: the longest directory all of the source's globs start
with before their first wildcard (`data/web/*.jsonl.gz` and `data/web/old/*.jsonl`:
`data/web`). So moving the corpus, or switching between a local folder and a bucket,
changes no id, no shard and no side line. Globs on different buckets or filesystems
share no root; a file id is then `<k>/<path>`, relative to the k-th distinct root.

At launch, `check_patterns` tells a glob that matches nothing from one whose filesystem
Beam cannot open (an unknown scheme, or `s3://` without `apache-beam[aws]`) or cannot
list: the second is an error naming the glob and what to install, never "no file
matches".
"""

from __future__ import annotations

import functools
import importlib.util

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from polymix.core.config import ReadConfig, SourceConfig
from polymix.core.errors import UserFacingError
from polymix.pipelines.unique_ids import UniqueIds
from polymix.transforms.example import Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file
from polymix.transforms.unicode_safety import escape_unencodable

REJECTED = "rejected"
_WILDCARDS = "*?["
# Counters `progress.<source>/documents` and `progress.<source>/bytes` (of files read to the
# end) that `polymix run` turns into documents/s and an ETA while the job runs.
PROGRESS = "progress"


def count_read(source: str, documents: int = 1, size: int = 0) -> None:
    if documents:
        beam.metrics.Metrics.counter(PROGRESS, f"{source}/documents").inc(documents)
    if size:
        beam.metrics.Metrics.counter(PROGRESS, f"{source}/bytes").inc(size)


def glob_root(pattern: str) -> str:
    """The directory a glob starts in: `gs://b/web/*.jsonl` → `gs://b/web` (a plain path: its folder)."""
    cut = min((pattern.index(c) for c in _WILDCARDS if c in pattern), default=len(pattern))
    head = pattern[:cut]
    return head.rsplit("/", 1)[0] if "/" in head else ""


def _location(path: str) -> str:
    """The filesystem and bucket a path lives on (`gs://bucket`; "" for local files)."""
    if "://" not in path:
        return ""
    scheme, rest = path.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _common_root(roots: list[str]) -> str | None:
    if len({_location(root) for root in roots}) != 1:
        return None
    common: list[str] = []
    for segments in zip(*(root.split("/") for root in roots), strict=False):
        if len(set(segments)) != 1:
            break
        common.append(segments[0])
    return "/".join(common)


def _under(path: str, root: str) -> bool:
    return path.startswith(root + "/") if root else not _location(path)


def file_id(path: str, root: str) -> str:
    """`path` relative to `root`; outside it, the path without its bucket or leading slash."""
    if _under(path, root):
        relative = path[len(root) + 1 :] if root else path.lstrip("/")
    else:
        location = _location(path)
        relative = path[len(location) :].lstrip("/")
    return escape_unencodable(relative)  # undecodable bytes in a file name: still one id


class SourceRoots:
    """Where a source's globs start, and each matched file's id relative to it."""

    def __init__(self, patterns: list[str]) -> None:
        self.roots = list(dict.fromkeys(glob_root(p) for p in patterns))
        self.common = _common_root(self.roots)

    def file_id(self, path: str) -> str:
        if self.common is not None:
            return file_id(path, self.common)
        candidates = [(-len(r), k, r) for k, r in enumerate(self.roots) if _under(path, r)]
        if not candidates:
            return file_id(path, "")
        _, k, root = min(candidates)
        return f"{k}/{file_id(path, root)}"


def open_raw(path: str):
    """Open any Beam filesystem path as bytes; our readers decompress by suffix themselves."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def text_spec(source: SourceConfig, limits: ReadConfig | None = None) -> TextSourceSpec:
    """The reader's slice of a source's config."""
    return TextSourceSpec(
        source.name,
        source.modality,
        source.format,
        source.text_field,
        source.id_field,
        limits or ReadConfig(),
        delimiter=source.delimiter,
        web=source.web if source.format == "warc" else None,
    )


class _ReadFileFn(beam.DoFn):
    """One file → its examples numbered in file order (for `UniqueIds`) and its rejections.

    Not an `IsolatedDoFn`: a file is not an example. The reader isolates each line and
    turns its own failures into a rejection for the rest of the file.
    """

    def __init__(self, spec: TextSourceSpec, roots: SourceRoots):
        self.spec = spec
        self.roots = roots

    def process(self, meta: tuple[str, int]):
        path, size = meta
        fid = self.roots.file_id(path)
        number = 0
        for item in read_text_file(self.spec, functools.partial(open_raw, path), path, fid):
            count_read(self.spec.name)
            if isinstance(item, Rejection):
                beam.metrics.Metrics.counter("read", item.reason).inc()
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            else:
                beam.metrics.Metrics.counter("read", "examples").inc()
                yield (fid, number), item
                number += 1
        count_read(self.spec.name, documents=0, size=size)


class ReadTextSource(beam.PTransform):
    """PBegin → {"examples": PCollection[Example], "rejected": PCollection[Rejection]}.

    Every input (line, row, or unreadable rest of a file) is in exactly one of them;
    `examples` have encodable texts and ids, unique within the source.
    """

    def __init__(
        self,
        source: SourceConfig,
        patterns: list[str],
        limits: ReadConfig | None = None,
        root_patterns: list[str] | None = None,
    ):
        """`patterns` are the globs to match; `root_patterns` (default: the same) all the
        source's globs, resolved, so that its root does not depend on which of them match."""
        super().__init__()
        self.spec = text_spec(source, limits)
        self.patterns = patterns
        self.roots = SourceRoots(root_patterns or patterns)

    def expand(self, pbegin):
        outputs = (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "Match" >> fileio.MatchAll()
            | "Paths" >> beam.Map(lambda meta: (meta.path, meta.size_in_bytes))
            | "Once" >> beam.Distinct()
            | "Spread" >> beam.Reshuffle()
            | "Read"
            >> beam.ParDo(_ReadFileFn(self.spec, self.roots)).with_outputs(
                REJECTED, main="examples"
            )
        )
        unique = outputs.examples | "UniqueIds" >> UniqueIds()
        rejected = (outputs[REJECTED], unique["rejected"]) | "Rejected" >> beam.Flatten()
        return {"examples": unique["examples"], "rejected": rejected}


# Beam's filesystems that need an extra: (module that must import, what to install).
FILESYSTEM_EXTRAS = {
    "gs": ("google.cloud.storage", "apache-beam[gcp]"),
    "s3": ("boto3", "apache-beam[aws]"),
    "azfs": ("azure.storage.blob", "apache-beam[azure]"),
    "hdfs": ("hdfs", "apache-beam[hadoop]"),
}
KNOWN_SCHEMES = "local paths, gs://, s3://, azfs:// and hdfs://"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def filesystem_problem(path: str, where: str = "paths") -> str | None:
    """Why Beam cannot open `path`'s filesystem here (no I/O), or None when it can; `where`
    names the config key the path came from."""
    scheme = FileSystems.get_scheme(path)
    if scheme is None:
        return None
    module, extra = FILESYSTEM_EXTRAS.get(scheme, (None, None))
    try:
        FileSystems.get_filesystem(path)
    except Exception:  # ValueError: no such scheme; BeamIOError: its module does not import
        hint = f"install {extra}" if extra else f"Beam reads {KNOWN_SCHEMES}"
        return f"no filesystem for scheme {scheme!r} ({where}: {path}); {hint}"
    if module is not None and not _installed(module):
        return f"no filesystem for scheme {scheme!r} ({where}: {path}); install {extra}"
    return None


def check_patterns(patterns: list[str], where: str = "paths") -> tuple[list[str], list[str]]:
    """(patterns that match something, patterns that match nothing), checked at launch.

    A pattern whose filesystem is missing or cannot be listed is a `UserFacingError`
    naming it (`where` names the config key it came from).
    """
    matched, empty = [], []
    for pattern in patterns:
        problem = filesystem_problem(pattern, where)
        if problem is not None:
            raise UserFacingError(problem)
        try:
            found = FileSystems.match([pattern], limits=[1])[0].metadata_list
        except Exception as exc:
            raise UserFacingError(f"{where}: cannot list {pattern}: {_cause(exc)}") from None
        (matched if found else empty).append(pattern)
    return matched, empty


def _cause(exc: BaseException) -> str:
    """The innermost error Beam wrapped (`BeamIOError` keeps them in `exception_details`)."""
    details = getattr(exc, "exception_details", None)
    if isinstance(details, dict) and details:
        inner = next(iter(details.values()))
        if isinstance(inner, BaseException):
            return _cause(inner)
    return f"{type(exc).__name__}: {exc}"
