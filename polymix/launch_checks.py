"""Config mistakes that would otherwise show only when the run ends, refused before it starts.

`check_inputs` reads the first inputs of every source (`pipelines/preview.py`: the first
3 files in sorted order, 20 inputs each, with the run's own readers) and refuses to
launch, in one line naming the source and the key, when:

- a path's filesystem is missing (`s3://` without `apache-beam[aws]`, an unknown
  scheme) or cannot be listed;
- a path names a folder, or an `hf_arrow` glob does not end in `.arrow` (it would also
  match the `state.json` and `dataset_info.json` beside them);
- nothing read parses in the chosen `format` (jsonl on Parquet files, webdataset on
  JPEGs, ...);
- the text field is missing, empty or not a string in every record read;
- a code in `filters.language.keep` is not a label of the language-ID model.

A sample that proves nothing passes: files that are all empty, or a source with no
file yet (the "no file matches" check after this one reports it). A dry run names
buckets it may not reach, so it checks remote sources' filesystems but reads none.
"""

from __future__ import annotations

import difflib
import locale
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from polymix.core.config import Config, SourceConfig
from polymix.core.errors import UserFacingError
from polymix.transforms.example import Example, Rejection

# Rejections that mean the record parsed but its fields are wrong (so the format is right).
PARSED_REASONS = frozenset(
    {"missing_text_field", "text_not_a_string", "invalid_id", "invalid_unicode", "text_too_long"}
)
NO_EVIDENCE = frozenset({"empty_file"})
MEDIA_MODALITIES = ("image", "audio", "video")
MAX_FIELDS_SHOWN = 20
DETAIL_CHARS = 160


def check_inputs(config: Config, *, dry_run: bool = False) -> None:
    """Raise `UserFacingError` on the first mistake found; return when every source reads."""
    check_language_codes(config)
    for source in config.sources:
        check_source(config, source, dry_run=dry_run)


def check_source(config: Config, source: SourceConfig, *, dry_run: bool = False) -> None:
    from polymix.pipelines.preview import sample_source
    from polymix.pipelines.read import check_patterns, filesystem_problem

    key = f"sources[{source.name}]"
    patterns = [config.resolve(p) for p in source.paths]
    if dry_run and any("://" in p for p in patterns):
        for pattern in patterns:
            if (problem := filesystem_problem(pattern, f"{key}.paths")) is not None:
                raise UserFacingError(problem)
        return
    check_patterns(patterns, f"{key}.paths")
    sample = sample_source(source, config, patterns)
    problem = path_problem(source, sample.paths) or sample_problem(
        source, sample.file_ids, sample.items
    )
    if problem is not None:
        raise UserFacingError(problem)


def path_problem(source: SourceConfig, paths: list[str]) -> str | None:
    """A folder where files were meant, or an hf_arrow glob that also names other files
    (a `save_to_disk` folder holds `state.json` and `dataset_info.json` too). The globs are
    judged as written, so a stray file sorted after the first few is caught as well."""
    key = f"sources[{source.name}].paths"
    for path in paths:
        if "://" not in path and os.path.isdir(path):
            files = f"{path}/*.arrow (a DatasetDict: {path}/*/*.arrow)"
            hint = files if source.format == "hf_arrow" else f"{path}/*"
            return f"{key}: {path} is a folder; name the files in it ({hint})"
    if source.format == "hf_arrow":
        for pattern in source.paths:
            if not pattern.endswith(".arrow"):
                return (
                    f"{key}: format hf_arrow reads the .arrow files `save_to_disk` writes, "
                    f"and {pattern} may match others; use a glob ending in .arrow"
                )
    return None


def _reason(item: Example | Rejection) -> str | None:
    return item.reason if isinstance(item, Rejection) else None


def sample_problem(
    source: SourceConfig, file_ids: list[str], items: list[Example | Rejection]
) -> str | None:
    """What the first inputs say is wrong with the source's config, or None."""
    evidence = [i for i in items if _reason(i) not in NO_EVIDENCE]
    if not evidence:
        return None
    parsed = [i for i in evidence if isinstance(i, Example) or _reason(i) in PARSED_REASONS]
    files = f"{len(file_ids)} file{'s' if len(file_ids) != 1 else ''}"
    if not parsed:
        return _format_problem(source, evidence, files)
    if source.modality in MEDIA_MODALITIES or source.format == "text":
        return None
    return _text_field_problem(source, parsed, files)


def _format_problem(source: SourceConfig, failures: list[Any], files: str) -> str:
    key = f"sources[{source.name}]"
    reasons = Counter(_reason(i) or "" for i in failures)
    if set(reasons) == {"missing_media_field"}:
        return f"{key}.media_field: {source.media_field!r} is missing in all {files} read"
    counts = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common())
    first = failures[0]
    detail = " ".join(first.detail.split())[:DETAIL_CHARS]
    chosen = source.format
    if chosen == "csv":  # a wrong delimiter reads as malformed rows: name it too
        chosen = f"csv (delimiter {source.delimiter!r})"
    return (
        f"{key}.format: {chosen}, but nothing in the first {len(failures)} inputs of "
        f"{files} parses as {chosen} ({counts}); {first.example.id}: {detail}"
    )


def _text_state(item: Example | Rejection) -> str | None:
    """missing | not a string | empty for a record without usable text, None otherwise."""
    if isinstance(item, Example):
        return "empty" if not (item.text or "").strip() else None
    return {"missing_text_field": "missing", "text_not_a_string": "not a string"}.get(item.reason)


def _text_field_problem(source: SourceConfig, parsed: list[Any], files: str) -> str | None:
    states = [_text_state(i) for i in parsed]
    if any(state is None for state in states):
        return None
    kinds = " or ".join(dict.fromkeys(s for s in states if s))
    seen = ", ".join(_fields_seen(parsed, source.text_field))
    return (
        f"sources[{source.name}].text_field: {source.text_field!r} is {kinds} in all "
        f"{len(parsed)} records read from {files}; fields seen: {seen or 'none'}"
    )


def _record_fields(item: Example | Rejection) -> Any:
    if isinstance(item, Example):
        return item.original_object()
    return item.example.original_object().get("raw")


def _paths(obj: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    if not isinstance(obj, dict) or depth > 2:
        return
    for name, value in obj.items():
        path = f"{prefix}{name}"
        yield path if path.isprintable() else repr(path)
        yield from _paths(value, f"{path}.", depth + 1)


def _fields_seen(parsed: list[Any], text_field: str) -> list[str]:
    names: dict[str, None] = {}
    for item in parsed:
        if isinstance(item, Example):
            names.setdefault(text_field)  # present, only empty: the reader took it out
        names.update(dict.fromkeys(_paths(_record_fields(item))))
    shown = list(names)
    return shown[:MAX_FIELDS_SHOWN] + (["..."] if len(shown) > MAX_FIELDS_SHOWN else [])


# --- language codes -----------------------------------------------------------------------


def check_language_codes(config: Config) -> None:
    """Every `filters.language.keep` code must be a label the language-ID model can give."""
    from polymix.transforms.filters import fasttext_models

    filters = config.filters
    runs = any(
        "language" in filters.stages_for(s.modality)
        for s in config.sources
        if s.modality in ("text", "code")
    )
    if not runs or not filters.language.keep:
        return
    try:
        path = filters.language.model_path or fasttext_models.lid_model_path()
    except FileNotFoundError:
        return  # the model check reports a missing model
    if "://" in path:
        return  # read by the workers; not fetched here
    labels = model_labels(fasttext_models.load(path))
    name = os.path.basename(path).removesuffix(".ftz").removesuffix(".bin")
    for code in filters.language.keep:
        if code not in labels:
            guess = suggested_code(code, labels)
            hint = f"; did you mean {guess!r}?" if guess else f" (it knows {_some(labels)})"
            raise UserFacingError(
                f"filters.language.keep: {code!r} is not a language code {name} knows{hint}"
            )


def model_labels(model: Any) -> list[str]:
    """The labels a fastText model predicts, without `__label__`."""
    words, _ = model.getLabels("replace")
    return [w.removeprefix("__label__") for w in words]


def _some(labels: list[str]) -> str:
    return ", ".join(labels[:12]) + (f" and {len(labels) - 12} more" if len(labels) > 12 else "")


def suggested_code(code: str, labels: list[str]) -> str | None:
    """The label meant by a language name, a locale or a 3-letter code (`english`, `en_US`,
    `eng`, `__label__en`), or a close spelling; None when nothing fits."""
    known = set(labels)
    plain = code.strip().lower().removeprefix("__label__").replace("-", "_")
    exact = locale.locale_alias.get(plain)  # the standard library's language names
    candidates = [plain, plain.split("_")[0], _language_of(exact)]
    candidates += [plain[:2]] if len(plain) == 3 else []  # deu -> de, zho -> zh, eng -> en
    if len(plain) > 3:  # a misspelt name (a short code has too many near neighbours)
        near = difflib.get_close_matches(plain, locale.locale_alias, 1, 0.8)
        candidates += [_language_of(locale.locale_alias[near[0]])] if near and not exact else []
    for candidate in candidates:
        if candidate in known and candidate != code:
            return candidate
    if len(plain) <= 3:
        return None
    close = difflib.get_close_matches(plain, labels, 1, 0.6)
    return close[0] if close and close[0] != code else None


def _language_of(locale_name: str | None) -> str | None:
    """`de_DE.ISO8859-1` → `de`."""
    return locale_name.split("_")[0].split(".")[0] if locale_name else None
