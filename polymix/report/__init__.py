"""The run report: what the pipeline kept, removed and why, and the mixture it implies.

`render_report(OUT)` reads only `OUT/manifest.json`, the `stats.json` in the folder it
names (`OUT/data-a/`, written by the run) and the first lines of one side file per
rejection reason and dedup stage, so a report can be re-rendered, re-planned with
another budget or compared with another run without re-running anything. Parts: `data`
(numbers, no plotting), `examples` (removed documents from the side files), `plots`
(matplotlib, Agg), `html` and the `*_html` sections (one self-contained page), `table`
(the terminal summary), `render` (writes OUT/report/), `pages` (re-planned and compared
pages, written beside it), `compare` (two runs side by side)."""

from polymix.report.render import render_report

__all__ = ["render_report"]
