"""The run report: what the pipeline kept, removed and why, and the mixture it implies.

`render_report(OUT)` reads only `OUT/manifest.json` and the `stats.json` in the folder it
names (`OUT/data-a/`, written by the run), so a report can be re-rendered, or re-planned with another budget, without re-running
anything. Parts: `data` (numbers, no plotting), `plots` (matplotlib, Agg), `html`
(one self-contained page), `table` (the terminal summary), `render` (writes the files).
"""

from polymix.report.render import render_report

__all__ = ["render_report"]
