"""Every stage name polymix knows, in one place: config, pipeline labels, `tag` and the report.

A stage's name is an address: `rejected/<source>/<stage>/<reason>/`, `duplicates/<source>/
<stage>/`, a Beam counter, a key of `attributes`, a row of the report's funnel. Keeping the
names here, on the ground floor, is what lets the config reject a misspelled stage before
anything runs and lets a test prove that nothing writes under a name this module does not list.

User filters (plugins) add names at run time: those in `filters.plugins`, and those registered
by installed distributions under the `polymix.stages` entry point group. Looking up entry points
reads installed metadata only; the user's class is imported where stages are built
(`polymix.transforms.filters.plugins`), never here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import entry_points

# Text, in the order a document meets them.
READ = "read"
EXTRACT = "extract"  # HTML -> text, for web archives
URL_FILTER = "url_filter"
NORMALIZE = "normalize"
EXACT_DEDUP = "exact_dedup"
NEAR_DEDUP = "near_dedup"
QUALITY = "quality"  # where an exception inside any filter stage is filed
DECONTAMINATE = "decontaminate"
TOKENIZE = "tokenize"

# Media (images, audio, video); they share READ and EXACT_DEDUP with text.
DECODE = "decode"
MEDIA_FILTER = "media_filter"
PHASH_DEDUP = "phash_dedup"
MEDIA_TOKENIZE = "media_tokenize"
MEDIA = "media"  # where an exception while decoding or encoding media is filed

# The built-in filter stages, each a `Stage` in `polymix.transforms.filters`.
FILTER_STAGES: tuple[str, ...] = (
    "language",
    "gopher_repetition",
    "gopher_quality",
    "c4",
    "fineweb",
    "code",
    "quality_classifier",
    "pii",
)

TEXT_BEFORE_FILTERS: tuple[str, ...] = (
    READ,
    EXTRACT,
    URL_FILTER,
    NORMALIZE,
    EXACT_DEDUP,
    NEAR_DEDUP,
)
TEXT_AFTER_FILTERS: tuple[str, ...] = (DECONTAMINATE, TOKENIZE)
MEDIA_STAGES: tuple[str, ...] = (
    READ,
    DECODE,
    MEDIA_FILTER,
    EXACT_DEDUP,
    PHASH_DEDUP,
    MEDIA_TOKENIZE,
)

# Every name the pipeline writes under, in the order the report's funnel shows them.
PIPELINE_STAGES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *TEXT_BEFORE_FILTERS,
            QUALITY,
            *FILTER_STAGES,
            *TEXT_AFTER_FILTERS,
            *MEDIA_STAGES,
            MEDIA,
        ]
    )
)

ENTRY_POINT_GROUP = "polymix.stages"
# A stage name becomes a folder and a counter: lower case, digits and underscores.
STAGE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def entry_point_stages() -> dict[str, tuple[str, ...]]:
    """Stage name -> each distinct `module:Class` installed under it in `polymix.stages`.

    Reads metadata only (nothing is imported). Sorted, so neither the choices a message lists
    nor the class a name picks depend on the order distributions were installed in; a name
    with more than one class is ambiguous and refused where stages are built.
    """
    found: dict[str, set[str]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, set()).add(point.value)
    return {name: tuple(sorted(values)) for name, values in sorted(found.items())}


def filter_stage_choices(plugins: Iterable[str] = ()) -> list[str]:
    """Names `filters.stages.*` and `polymix tag --stages` accept: built-in, configured, installed."""
    names = [*FILTER_STAGES, *sorted(plugins), *entry_point_stages()]
    return list(dict.fromkeys(names))


def unknown_stage(where: str, names: Iterable[str], plugins: Iterable[str] = ()) -> str | None:
    """One line naming the first stage that is neither built-in, configured nor installed."""
    plugins = list(plugins)
    known = set(FILTER_STAGES) | set(plugins)
    unknown = [name for name in names if name not in known]
    if not unknown:
        return None
    choices = filter_stage_choices(plugins)  # entry points are read only when needed
    missing = [name for name in unknown if name not in choices]
    if not missing:
        return None
    return f"{where}: unknown stage {missing[0]!r}; choose from {', '.join(choices)}"


def check_plugin_name(name: str) -> str | None:
    """Why `name` cannot name a user stage (None when it can)."""
    if not STAGE_NAME_PATTERN.fullmatch(name):
        return f"plugin stage name {name!r} must be lower case letters, digits and underscores"
    if name in PIPELINE_STAGES:
        return f"plugin stage name {name!r} is taken by a built-in stage"
    return None
