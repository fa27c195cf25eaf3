"""The terminal summary: one line per source with the mixture next to the accounting."""

from __future__ import annotations

from polymix.report.data import ReportData


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _epochs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_table(data: ReportData) -> str:
    header = (
        f"{'source':<14}{'input':>9}{'kept':>9}{'dupes':>8}{'rejected':>10}{'positions':>13}"
        f"{'held-out':>10}{'target':>8}{'planned':>9}{'epochs':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in data.rows:
        lines.append(
            f"{row.name:<14}{row.input:>9,}{row.kept:>9,}{row.duplicates:>8,}{row.rejected:>10,}"
            f"{row.tokens:>13,}{row.eval_tokens:>10,}"
            f"{_share(row.target_weight):>8}{_share(row.planned_weight):>9}"
            f"{_epochs(row.epochs):>8}"
        )
        for stage, n in row.duplicates_by_stage.items():
            lines.append(f"{'':<14}duplicates at {stage}: {n:,}")
        for stage, reasons in row.rejected_by_stage.items():
            detail = ", ".join(f"{reason} {n:,}" for reason, n in reasons.items())
            lines.append(f"{'':<14}rejected at {stage}: {detail}")
    total = [
        sum(getattr(r, f) for r in data.rows)
        for f in ("input", "kept", "duplicates", "rejected", "tokens", "eval_tokens")
    ]
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<14}{total[0]:>9,}{total[1]:>9,}{total[2]:>8,}{total[3]:>10,}{total[4]:>13,}"
        f"{total[5]:>10,}"
    )
    if data.plan is not None:
        source = (
            "the run's kept positions"
            if data.plan["budget_from"] == "kept"
            else "mixture.budget_tokens"
        )
        lines.append(
            f"mixture: budget {data.plan['budget']:,} positions ({source}), planned by the {data.plan_origin}"
        )
        lines += [f"mixture warning: {w}" for w in data.plan["warnings"]]
    else:
        lines.append(f"mixture: not planned: {data.plan_error}")
    return "\n".join(lines)
