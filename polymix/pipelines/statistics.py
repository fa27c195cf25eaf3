"""The run's statistics for the report, computed where the data is: Beam combiners, fixed bins.

    kept Examples ──┐
    Rejections ─────┼─► one CombineGlobally (histograms, languages, removals) ─┐
    Duplicates ─────┴─► count per kept_id ─► CombineGlobally (cluster sizes) ──┤
    shard records ─► (source, positions) ─► CombineGlobally (lengths per source) ┴─► stats.json

Histograms use one fixed set of bin edges for every numeric attribute (linear on [0, 1],
then ten bins per decade up to 1e9), so partial histograms from any worker add up without
knowing the data's range first; the report draws them with the configured cut, which is
what lets a user see what moving a threshold would keep (Dolma: tag first, decide later).
Only a few numbers per attribute, language and cluster size reach one worker.

Record lengths per source use the same fixed EDGES (ten bins per decade), so a source
holds 142 counts at any scale: at 1 PB (~1.5x10^11 records of the ~30% kept) the one
worker that merges receives one such array per source from each bundle's partial
combine, never a record; a hot source is no hot key, since nothing is keyed.

Attribute histograms are kept over all sources together and once per source, so the
report can show which source a threshold bites into. Per source that is the same fixed
bins: at ~100 sources and ~40 numeric attributes an accumulator holds at most
100 x 40 x 143 x 2 counts (~1.1 M integers, a few MB), however many documents there are.
Languages, domains and record lengths are per source too.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam

from polymix.pipelines.file_io import write_bytes
from polymix.transforms.example import Duplicate, Example, Rejection

STATS_NAME = "stats.json"
STATS_SCHEMA = 1
EDGES: tuple[float, ...] = tuple(
    [i / 50 for i in range(51)] + [10 ** (k / 10) for k in range(1, 91)]
)
CATEGORICAL = ("language.lang",)
SKIPPED = ("modified",)  # text-change counts: already in the manifest
RECORD_LENGTHS = "record_positions"


def cuts_from_filters(filters: Any) -> dict[str, list[dict[str, Any]]]:
    """Thresholds per attribute path, as the configured stages declare them (`Cut`s).

    The stages publish their own cuts, so the report can never draw a threshold the
    pipeline does not apply.
    """
    from polymix.transforms.filters.cuts import numeric_cuts

    cuts: dict[str, list[dict[str, Any]]] = {}
    if filters is None:
        return cuts
    for modality in ("text", "code"):
        for stage, stage_cuts in numeric_cuts(filters, modality).items():
            for cut in stage_cuts:
                entry = {
                    "key": f"{stage}: {cut.reason}",
                    "value": float(cut.threshold),
                    "keep": "above" if cut.op == "<" else "below",
                }
                listed = cuts.setdefault(f"{stage}.{cut.attribute}", [])
                if entry not in listed:
                    listed.append(entry)
    return cuts


def flatten_numeric(attributes: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """(dotted path, value) for every scalar attribute; nested stage dicts become `stage.name`."""
    for key in sorted(attributes):
        value = attributes[key]
        path = f"{prefix}{key}"
        if not prefix and key in SKIPPED:
            continue
        if isinstance(value, Mapping):
            yield from flatten_numeric(value, f"{path}.")
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            yield path, value


def bin_index(value: float) -> int:
    """0 is below EDGES[0], len(EDGES) is at or above EDGES[-1]; bin i holds [EDGES[i-1], EDGES[i])."""
    return bisect.bisect_right(EDGES, value)


def _new_histogram(series: Sequence[str] = ("passed", "rejected")) -> dict[str, Any]:
    n = len(EDGES) + 1
    return {
        **{name: [0] * n for name in series},
        "count": 0,
        "sum": 0.0,
        "min": None,
        "max": None,
    }


class _RunStatsFn(beam.CombineFn):
    """Histograms per numeric attribute, languages per source, removals per stage."""

    def create_accumulator(self) -> dict[str, Any]:
        return {"histograms": {}, "by_source": {}, "languages": {}, "removals": {}, "examples": {}}

    def add_input(self, acc: dict[str, Any], item: tuple) -> dict[str, Any]:
        bucket, source, stage, attributes = item
        acc["examples"][bucket] = acc["examples"].get(bucket, 0) + 1
        if bucket != "kept":
            removal = acc["removals"].setdefault(stage, {})
            removal[bucket] = removal.get(bucket, 0) + 1
        if bucket == "duplicates":
            return acc
        for path, value in flatten_numeric(attributes):
            outcome = (
                "rejected" if bucket == "rejected" and path.split(".")[0] == stage else "passed"
            )
            if path in CATEGORICAL:
                counts = acc["languages"].setdefault(source, {}).setdefault(str(value), {})
                counts[outcome] = counts.get(outcome, 0) + 1
            elif not isinstance(value, str) and math.isfinite(value):
                per_source = acc["by_source"].setdefault(source, {})
                for histograms in (acc["histograms"], per_source):
                    _observe(_histogram(histograms, path), outcome, value)
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict[str, Any]]) -> dict[str, Any]:
        out = self.create_accumulator()
        for acc in accumulators:
            for bucket, n in acc["examples"].items():
                out["examples"][bucket] = out["examples"].get(bucket, 0) + n
            _add_nested(out["removals"], acc["removals"])
            _add_nested(out["languages"], acc["languages"])
            for path, hist in acc["histograms"].items():
                _merge_histogram(_histogram(out["histograms"], path), hist)
            for source, histograms in acc["by_source"].items():
                into = out["by_source"].setdefault(source, {})
                for path, hist in histograms.items():
                    _merge_histogram(_histogram(into, path), hist)
        return out

    def extract_output(self, acc: dict[str, Any]) -> dict[str, Any]:
        return acc


def _histogram(histograms: dict[str, Any], path: str) -> dict[str, Any]:
    """The histogram of `path`, made only when missing: a new one is 286 counts to build."""
    hist = histograms.get(path)
    if hist is None:
        hist = histograms[path] = _new_histogram()
    return hist


def _observe(hist: dict[str, Any], outcome: str, value: float) -> None:
    hist[outcome][bin_index(value)] += 1
    hist["count"] += 1
    hist["sum"] += value
    hist["min"] = value if hist["min"] is None else min(hist["min"], value)
    hist["max"] = value if hist["max"] is None else max(hist["max"], value)


def _merge_histogram(
    into: dict[str, Any], hist: Mapping[str, Any], series: Sequence[str] = ("passed", "rejected")
) -> None:
    for name in series:
        into[name] = [a + b for a, b in zip(into[name], hist[name], strict=True)]
    into["count"] += hist["count"]
    into["sum"] += hist["sum"]
    for side, pick in (("min", min), ("max", max)):
        values = [v for v in (into[side], hist[side]) if v is not None]
        into[side] = pick(values) if values else None


def _add_nested(into: dict, other: Mapping) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping):
            _add_nested(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


class _ClusterSizesFn(beam.CombineFn):
    """(stage, cluster size) -> {stage: {size: clusters}}."""

    def create_accumulator(self) -> dict[str, dict[int, int]]:
        return {}

    def add_input(self, acc: dict, item: tuple[str, int]) -> dict:
        stage, size = item
        sizes = acc.setdefault(stage, {})
        sizes[size] = sizes.get(size, 0) + 1
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict]) -> dict:
        out: dict = {}
        for acc in accumulators:
            _add_nested(out, acc)
        return out

    def extract_output(self, acc: dict) -> dict:
        return acc


class _RecordLengthsFn(beam.CombineFn):
    """(source, positions of one shard record) -> {source: histogram over the fixed EDGES}.

    One source holds len(EDGES) + 1 counts whatever its size, so partial results from
    every worker add up exactly, like the attribute histograms.
    """

    SERIES = ("records",)

    def create_accumulator(self) -> dict[str, dict[str, Any]]:
        return {}

    def add_input(self, acc: dict, item: tuple[str, int]) -> dict:
        source, positions = item
        hist = acc.setdefault(source, _new_histogram(self.SERIES))
        hist["records"][bin_index(positions)] += 1
        hist["count"] += 1
        hist["sum"] += positions
        hist["min"] = positions if hist["min"] is None else min(hist["min"], positions)
        hist["max"] = positions if hist["max"] is None else max(hist["max"], positions)
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict]) -> dict:
        out: dict = {}
        for acc in accumulators:
            for source, hist in acc.items():
                into = out.setdefault(source, _new_histogram(self.SERIES))
                _merge_histogram(into, hist, self.SERIES)
        return out

    def extract_output(self, acc: dict) -> dict[str, Any]:
        """Per source: count, min, max, mean, the used edges and the records in each bin."""
        return {source: _trimmed(acc[source], self.SERIES) for source in sorted(acc)}


def _observation(bucket: str):
    def observe(item: Example | Rejection | Duplicate) -> Iterable[tuple]:
        if isinstance(item, Example):
            yield ("kept", item.source, None, item.attributes)
        elif isinstance(item, Rejection | Duplicate):
            yield (bucket, item.example.source, item.stage, item.example.attributes)
        # anything else (e.g. an already tokenized media record) carries no attributes

    return observe


def _trimmed(hist: Mapping[str, Any], series: Sequence[str] = ("passed", "rejected")) -> dict:
    """Only the bins between the first and last non-empty one, with their edges."""
    totals = [sum(counts) for counts in zip(*(hist[name] for name in series), strict=True)]
    used = [i for i, n in enumerate(totals) if n]
    lo, hi = used[0], used[-1]
    lo_edge = EDGES[lo - 1] if lo > 0 else hist["min"]
    edges = [lo_edge] + [EDGES[i] if i < len(EDGES) else hist["max"] for i in range(lo, hi + 1)]
    if edges[-1] <= edges[-2]:
        edges[-1] = edges[-2] * 1.0001 + 1e-9
    return {
        "count": hist["count"],
        "min": hist["min"],
        "max": hist["max"],
        "mean": float(f"{hist['sum'] / hist['count']:.10g}"),
        "edges": edges,
        **{name: hist[name][lo : hi + 1] for name in series},
    }


def assemble_stats(
    run: Mapping[str, Any],
    clusters: Mapping[str, Mapping[int, int]],
    cuts: Mapping[str, Sequence[Mapping[str, Any]]],
    stages: Sequence[str],
) -> dict[str, Any]:
    """The JSON-able summary: sorted keys and rounded sums, so reruns give the same bytes."""
    histograms = {}
    for path in sorted(run["histograms"]):
        histograms[path] = {**_trimmed(run["histograms"][path]), "cuts": list(cuts.get(path, []))}
    cluster_stats = {}
    for stage in sorted(clusters):
        sizes = clusters[stage]
        cluster_stats[stage] = {
            "clusters": sum(sizes.values()),
            "documents": sum(size * n for size, n in sizes.items()),
            "sizes": {str(size): sizes[size] for size in sorted(sizes)},
        }
    return {
        "schema": STATS_SCHEMA,
        "stages": list(stages),
        "examples": dict(sorted(run["examples"].items())),
        "removals": {s: dict(sorted(v.items())) for s, v in sorted(run["removals"].items())},
        "attributes": histograms,
        "attributes_by_source": {
            source: {path: _trimmed(hists[path]) for path in sorted(hists)}
            for source, hists in sorted(run.get("by_source", {}).items())
        },
        "languages": {
            source: {lang: dict(sorted(c.items())) for lang, c in sorted(langs.items())}
            for source, langs in sorted(run["languages"].items())
        },
        "clusters": cluster_stats,
    }


def _write(
    _: Any,
    path: str,
    run: dict,
    clusters: dict,
    cuts: Mapping,
    stages: Sequence[str],
    sections: Mapping[str, Any],
) -> str:
    stats = {**assemble_stats(run, clusters, cuts, stages), **dict(sorted(sections.items()))}
    write_bytes(path, (json.dumps(stats, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path


class RecordLengths(beam.PTransform):
    """`TokenizedRecord`s -> one {source: histogram of positions per record} (`stats.json`)."""

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return (
            records
            | "SourcePositions" >> beam.Map(lambda record: (record.source, record.positions))
            | "Histogram" >> beam.CombineGlobally(_RecordLengthsFn())
        )


class RunStatistics(beam.PTransform):
    """`(kept Examples, Rejections, Duplicates)` in; writes `OUT/stats.json`, returns its path.

    `cuts` come from `cuts_from_filters(config.filters)`; `stages` is the order the job
    runs its stages in, so the report's funnel follows the pipeline; `sections` are
    small summaries computed elsewhere (the top domains), each written under its name;
    `records` (the shard records) adds their lengths per source as `record_positions`.
    """

    def __init__(
        self,
        output: str,
        cuts: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        stages: Sequence[str] = (),
        sections: Mapping[str, beam.PCollection] | None = None,
        records: beam.PCollection | None = None,
    ) -> None:
        super().__init__()
        self.path = f"{output.rstrip('/')}/{STATS_NAME}"
        self.cuts = dict(cuts or {})
        self.stages = tuple(stages)
        self.sections = dict(sections or {})  # name -> a one-element PCollection of JSON
        self.records = records  # TokenizedRecords: their lengths per source, if given

    def expand(self, inputs: tuple[beam.PCollection, beam.PCollection, beam.PCollection]):
        kept, rejected, duplicates = inputs
        observations = (
            kept | "ObserveKept" >> beam.FlatMap(_observation("kept")),
            rejected | "ObserveRejected" >> beam.FlatMap(_observation("rejected")),
            duplicates | "ObserveDuplicates" >> beam.FlatMap(_observation("duplicates")),
        ) | "Observations" >> beam.Flatten()
        run = observations | "Summarize" >> beam.CombineGlobally(_RunStatsFn())
        clusters = (
            duplicates
            | "ByKept" >> beam.Map(lambda d: ((d.stage, d.kept_id), 1))
            | "ClusterMembers" >> beam.CombinePerKey(sum)
            | "ClusterSize" >> beam.MapTuple(lambda key, n: (key[0], n + 1))
            | "SizeCounts" >> beam.CombineGlobally(_ClusterSizesFn())
        )
        return (
            inputs[0].pipeline
            | "Once" >> beam.Create([None])
            | "WriteStats"
            >> beam.Map(
                _write,
                self.path,
                beam.pvalue.AsSingleton(run),
                beam.pvalue.AsSingleton(clusters),
                self.cuts,
                self.stages,
                beam.pvalue.AsDict(self._sections(inputs[0].pipeline)),
            )
        )

    def _sections(self, pipeline: beam.Pipeline) -> beam.PCollection:
        """(name, summary) pairs: a few small JSON values, one per section."""
        sections = dict(self.sections)
        if self.records is not None:
            sections[RECORD_LENGTHS] = self.records | "RecordLengths" >> RecordLengths()
        named = [
            summary | f"Name[{name}]" >> beam.Map(lambda value, name=name: (name, value))
            for name, summary in sorted(sections.items())
        ]
        if not named:
            return pipeline | "NoSections" >> beam.Create([])
        return named | "Sections" >> beam.Flatten()
