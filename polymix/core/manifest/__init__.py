"""The manifest: the one contract between the data half and the training half.

A run's manifest is two layers, so that no process ever holds the whole list of files:

- `manifest.json`, the top level: schema version, config hash, tokenizer and its
  checksum, MinHash scheme, media layout, mixture and plan, per-source totals,
  warnings, and the list of index files (path, kind, source, entries, bytes, sha256).
- the index, `index/<kind>/<source>/part-NNNNN-of-MMMMM.jsonl.gz`: one JSON line per
  shard (`kind` shards) or side file (`rejected`, `duplicates`), written in parallel by
  the pipeline, about 8 MiB of JSON per file, checksummed from the top level.

Sizes at 1 PB (5e11 documents of ~2 KB, ~30% kept: ~2.5M shards, ~13M side files), as
`benchmarks/manifest_scale.py` measures them on 10^6 shard entries and scales them:

- index: ~250 bytes a line, so ~0.6 GB of shard lines and ~3.3 GB of side-file lines,
  in ~460 index files of <= 8 MiB of lines (~1.7 MiB gzip'd);
- top level: ~0.15 MB (~315 bytes per index file listed, plus the totals), where
  schema 1's single file would be ~0.9 GB of shard entries alone;
- writing: one worker holds one index file's entries (~32k; 38 MB peak measured); the
  top level is assembled from the index-file list and per-reason counts (<1 MB);
- reading: `load_manifest` reads the top level; `manifest.shards(source)` and
  `manifest.side_files(source)` stream one index file at a time (5 MB peak measured,
  against 2.2 GB to parse schema 1 at 10^6 shards). The loader keeps four fields of
  each shard of the sources it trains on (every host reads a slice of every shard):
  ~730 bytes a shard, ~1.7 GB for all of 1 PB, peaking at ~3 KB a shard of the source
  being opened (mostly ArrayRecord's one thread-pool future per path).

Every path in either layer is relative to the run's data folder, the manifest's folder
(or bucket prefix) joined with the top level's `data` (`OUT/data-a/` for a published
run, see `polymix.run_output`), and normalised; each is checked when it is parsed
(`paths.check_relative`), `data` included, so a manifest cannot point a reader outside
its run. `load_manifest` binds the manifest to that folder (`manifest.root`), and every
reader (loader, verify, report) opens files through it. Readers refuse any other
schema version.
"""

from polymix.core.manifest.entries import (
    IndexFileInfo,
    ManifestError,
    ManifestRefused,
    ShardInfo,
    SideFileInfo,
    one_line,
)
from polymix.core.manifest.files import shard_problem, unreadable_shard, verify_shard
from polymix.core.manifest.index import (
    INDEX_FOLDER,
    encode_entry,
    index_file_name,
    read_index_file,
)
from polymix.core.manifest.load import load_manifest, parse_manifest
from polymix.core.manifest.paths import (
    MANIFEST_NAME,
    check_relative,
    is_remote,
    join,
    manifest_location,
)
from polymix.core.manifest.schema import SCHEMA_VERSION, Manifest, SourceTotals, TokenizerInfo
from polymix.core.manifest.storage import read_bytes, sha256_file
from polymix.core.manifest.verify import (
    find_problems,
    index_problems,
    problems_line,
    verify_manifest,
)
from polymix.core.manifest.write import write_manifest

__all__ = [
    "INDEX_FOLDER",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "IndexFileInfo",
    "Manifest",
    "ManifestError",
    "ManifestRefused",
    "ShardInfo",
    "SideFileInfo",
    "SourceTotals",
    "TokenizerInfo",
    "check_relative",
    "encode_entry",
    "find_problems",
    "index_file_name",
    "index_problems",
    "is_remote",
    "join",
    "load_manifest",
    "manifest_location",
    "one_line",
    "parse_manifest",
    "problems_line",
    "read_bytes",
    "read_index_file",
    "sha256_file",
    "shard_problem",
    "unreadable_shard",
    "verify_manifest",
    "verify_shard",
    "write_manifest",
]
