"""An agent's monthly scores as a small inline SVG line chart, with the pass line drawn.

Every agent's chart shares the months and the score axis, so that the charts compare at a glance.
"""

from __future__ import annotations

from html import escape

from qcpipe.reports.monthly import MonthlyScore

WIDTH, HEIGHT = 280, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 30, 12, 16, 22
_INSET = 24  # keeps the first and last months' points and labels clear of the axis labels and the edge


def trend_chart(agent: MonthlyScore, months: tuple[str, ...], current: str, pass_line: float, floor: float) -> str:
    """`months` is the shared x axis; a month without calls leaves a gap in the line."""

    def x(month: str) -> float:
        first, last = _LEFT + _INSET, WIDTH - _RIGHT - _INSET
        if len(months) == 1:
            return (first + last) / 2
        return first + months.index(month) * (last - first) / (len(months) - 1)

    def y(score: float) -> float:
        return _TOP + (100 - score) * (HEIGHT - _TOP - _BOTTOM) / (100 - floor)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" width="100%" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(agent.label)}: monthly QA score">'
    ]
    step = 10 if 100 - floor <= 50 else 20
    for tick in range(int(floor), 101, step):
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
            f'<text x="{_LEFT - 4}" y="{y(tick) + 3:.1f}" font-size="9" text-anchor="end" fill="#888">{tick}</text>'
        )
    for month in months:
        label = month if len(months) <= 4 else month[2:]
        parts.append(
            f'<text x="{x(month):.1f}" y="{HEIGHT - 6}" font-size="9" text-anchor="middle" fill="#666">{label}</text>'
        )
    parts.append(
        f'<line class="pass-line" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(pass_line):.1f}" y2="{y(pass_line):.1f}" '
        'stroke="#c00000" stroke-width="1.2" stroke-dasharray="5 3"/>'
    )
    by_month = {point.month: point for point in agent.trend}
    for run in _runs(months, by_month):
        points = " ".join(f"{x(m):.1f},{y(by_month[m].score):.1f}" for m in run)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#2f5d9e" stroke-width="2"/>')
    for month, point in by_month.items():
        failing = point.score < pass_line
        colour = "#c00000" if failing else "#2f5d9e"
        radius = 4.5 if month == current else 3
        parts.append(
            f'<circle cx="{x(month):.1f}" cy="{y(point.score):.1f}" r="{radius}" fill="{colour}">'
            f"<title>{month}: {point.score:.1f} ({point.calls} calls)</title></circle>"
            # A white halo keeps the value legible where it crosses the pass line or a grid line.
            f'<text x="{x(month):.1f}" y="{y(point.score) - 7:.1f}" font-size="10" text-anchor="middle" '
            'stroke="#fff" stroke-width="3" paint-order="stroke" '
            f'fill="{colour}" font-weight="{"bold" if month == current else "normal"}">{point.score:.1f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _runs(months: tuple[str, ...], scored: dict[str, object]) -> list[list[str]]:
    """Stretches of consecutive axis months that all have a score: each is drawn as one line."""
    runs: list[list[str]] = [[]]
    for month in months:
        if month in scored:
            runs[-1].append(month)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if len(run) > 1]
