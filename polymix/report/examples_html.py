"""The page's examples section: what each reason and each dedup stage removed, as text.

Every byte of a document is someone else's input, so all of it is escaped: a removed
page holding `<script>` must read as text, never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from polymix.report.examples import MAX_CHARS, Sample, SampleGroup


def _text(sample: Sample) -> str:
    more = f"<span class=muted> … {sample.cut:,} more characters</span>" if sample.cut else ""
    return f"<div class=doc>{escape(sample.text)}{more}</div>"


def _sample_row(group: SampleGroup, sample: Sample) -> str:
    facts = [f"id {sample.id}"]
    if sample.duplicate_of is not None:
        facts.append(f"duplicate of {sample.duplicate_of}")
    if sample.similarity is not None and group.stage != "exact_dedup":
        facts.append(f"similarity {sample.similarity:.3f}")
    if sample.detail:
        facts.append(sample.detail)
    return f"<li><div class=muted>{escape(' · '.join(facts))}</div>{_text(sample)}</li>"


def _group_html(group: SampleGroup) -> str:
    what = group.reason if group.kind == "rejected" else "duplicates"
    title = f"{group.source} · {group.stage} · {what}: {group.removed:,} removed"
    if group.error:
        body = f"<p class=warn>no examples: {escape(group.error)}</p>"
    else:
        origin = f"{len(group.samples):,} shown, from the start of {group.path}"
        rows = "".join(_sample_row(group, s) for s in group.samples)
        body = f"<p class=muted>{escape(origin)}</p><ol class=docs>{rows}</ol>"
    return f"<details><summary>{escape(title)}</summary>{body}</details>"


def examples_section(groups: Sequence[SampleGroup], stages: Sequence[str] = ()) -> str:
    """Per source, in the order the run's stages ran (`stages`), rejections before duplicates."""
    if not groups:
        return "<p class=muted>Nothing was removed in this run, or it lists no side files.</p>"
    intro = (
        f"<p>The first documents of each reason's side file, cut to {MAX_CHARS} characters; "
        "a duplicate names the document kept in its place. All of them are in "
        "<code>rejected/</code> and <code>duplicates/</code>.</p>"
    )
    rank = {stage: i for i, stage in enumerate(stages)}
    ordered = sorted(
        groups, key=lambda g: (g.source, rank.get(g.stage, len(rank)), g.stage, g.kind, g.reason)
    )
    return intro + "".join(_group_html(g) for g in ordered)
