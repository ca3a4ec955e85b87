"""The monthly report as one self-contained HTML page: no script, no font or file fetched, so it
opens the same from a mail attachment on a computer with no internet access.

Top to bottom: who needs attention and on which checks, the ranking, the agent × check
compliance heatmap, and each agent's score trend against the pass line (inline SVG).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from qcpipe.reports.monthly import MonthlyReport, MonthlyScore
from qcpipe.reports.monthly_columns import COMPLIANCE_SCALE, trend_floor
from qcpipe.reports.monthly_svg import trend_chart

_STYLE = """
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
       margin: 24px 32px; color: #222; max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: #555; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 9px; border-bottom: 1px solid #e3e3e3; text-align: left; }
th { background: #f3f4f6; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fdecea; } tr.total td { font-weight: 600; border-top: 2px solid #ccc; } td.fail { color: #b00020; font-weight: 700; }
.flag { display: inline-block; background: #b00020; color: #fff; border-radius: 3px; padding: 1px 6px;
        margin: 1px 2px; font-size: 12px; white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e8b4b0; border-left: 5px solid #b00020; border-radius: 4px; padding: 8px 12px;
        min-width: 260px; background: #fff8f7; }
.card b { font-size: 15px; } .card ul { margin: 6px 0 0; padding-left: 18px; }
table.heat td.rate { text-align: center; min-width: 64px; } table.heat th small { color: #666; font-weight: 400; }
td.na { color: #999; background: #f7f7f7; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 12px; }
.chart { border: 1px solid #ddd; border-radius: 4px; padding: 6px 8px; }
.chart.flagged { border: 2px solid #b00020; } .chart h3 { font-size: 14px; margin: 0 0 2px; }
.good { color: #1a7f37; } .bad { color: #b00020; }
"""


def to_html(report: MonthlyReport, path: str | Path) -> None:
    Path(path).write_text(render_html(report), encoding="utf-8")


def render_html(report: MonthlyReport) -> str:
    title = f"Monthly QA report {report.month}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{escape(report.headline.removeprefix(title + " · "))}</p>',
            _recordings(report),
            _attention(report),
            _ranking(report),
            _heatmap(report),
            _trends(report),
            "</body></html>",
        ]
    )


def _attention(report: MonthlyReport) -> str:
    flagged = [agent for agent in reversed(report.agents) if agent.flags]  # worst first
    if not flagged:
        return "<h2>Needs attention</h2><p>No agent is flagged this month.</p>"
    cards = []
    for agent in flagged:
        weakest = agent.weakest_checks()
        coaching = "".join(f"<li>{_check_name(report, r, ' ')}: {rate:.0%}</li>" for r, rate in weakest)
        cards.append(
            f'<div class="card"><b>{escape(agent.label)}</b> · {escape(agent.team or "no team")} · '
            f'score <span class="bad">{agent.score:.1f}</span> · rank {agent.rank_in_center}/{report.center_agents}'
            f"<div>{_flag_badges(agent)}</div>"
            + (f"<ul>{coaching}</ul>" if coaching else "<div>no check broken this month</div>")
            + "</div>"
        )
    return f'<h2>Needs attention</h2><div class="cards">{"".join(cards)}</div>'


def _recordings(report: MonthlyReport) -> str:
    """How many calls had agent speech the recognizer could not transcribe: many point at the
    recordings (line noise, levels, a swapped channel), not at the agents."""
    share = report.unheard_share
    shown = "" if share is None else f" ({share:.0%})"
    return (
        f'<p class="meta" id="unheard">未识别语音通话 calls with unheard agent speech: '
        f"<b>{report.center_calls_unheard}</b> of {report.center_calls}{shown} in the center. "
        "Checks for a phrase the agent may have said there were not applied; many such calls point at the "
        "recordings, not the agents.</p>"
    )


def _ranking(report: MonthlyReport) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("Rank", "Agent", "Team", "Calls", "Score", "Change", "Team rank", "Flags",
                                              "Calls unheard"))
    rows = []
    for agent in report.agents:
        fail = ' fail' if agent.score < report.pass_line else ""
        rows.append(
            f'<tr{" class=flagged" if agent.flags else ""}><td class="num">{agent.rank_in_center}</td>'
            f"<td>{escape(agent.label)}</td><td>{escape(agent.team or '')}</td>"
            f'<td class="num">{agent.calls}</td><td class="num{fail}">{agent.score:.1f}</td>'
            f'<td class="num">{_change(agent.change)}</td><td class="num">{agent.rank_in_team}</td>'
            f'<td>{_flag_badges(agent)}</td><td class="num">{agent.calls_unheard}</td></tr>'
        )
    mean = "—" if report.center_mean is None else f"{report.center_mean:.1f}"
    rows.append(
        f'<tr class="total"><td></td><td>全中心 center</td><td></td><td class="num">{report.center_calls}</td>'
        f'<td class="num">{mean}</td><td></td><td></td><td></td>'
        f'<td class="num">{report.center_calls_unheard}</td></tr>'
    )
    return f"<h2>Ranking</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _heatmap(report: MonthlyReport) -> str:
    head = "".join(f"<th>{_check_name(report, r, '<br>')}</th>" for r in report.rule_ids)
    rows = []
    for agent in report.agents:
        cells = "".join(_rate_cell(agent.compliance[r]) for r in report.rule_ids)
        rows.append(f"<tr><td>{escape(agent.label)}</td>{cells}</tr>")
    return (
        "<h2>Compliance by check</h2>"
        '<p class="meta">Share of the calls a check concerned in which the agent kept it; n/a: it concerned none.</p>'
        f'<table class="heat"><tr><th>Agent</th>{head}</tr>{"".join(rows)}</table>'
    )


def _trends(report: MonthlyReport) -> str:
    months, floor = report.trend_months, trend_floor(report)
    charts = []
    for agent in report.agents:
        charts.append(
            f'<div class="chart{" flagged" if agent.flags else ""}"><h3>{escape(agent.label)} '
            f"{_flag_badges(agent)}</h3>{trend_chart(agent, months, report.month, report.pass_line, floor)}</div>"
        )
    return (
        "<h2>Score trends</h2>"
        f'<p class="meta">Monthly QA score; dashed red line: the pass line ({report.pass_line:g}).</p>'
        f'<div class="charts">{"".join(charts)}</div>'
    )


def _check_name(report: MonthlyReport, rule_id: str, separator: str) -> str:
    """The check's title, and its id in small type where the two differ."""
    title = report.title_of(rule_id)
    return escape(title) + (f"{separator}<small>{escape(rule_id)}</small>" if title != rule_id else "")


def _flag_badges(agent: MonthlyScore) -> str:
    return "".join(f'<span class="flag">{escape(flag.label)}</span>' for flag in agent.flags)


def _change(change: float | None) -> str:
    if change is None:
        return "—"
    css = "good" if change > 0 else "bad" if change < 0 else ""
    return f'<span class="{css}">{change:+.1f}</span>'


def _rate_cell(rate: float | None) -> str:
    if rate is None:
        return '<td class="rate na">n/a</td>'
    return f'<td class="rate" style="background:#{_scale_colour(rate)}">{rate:.0%}</td>'


def _scale_colour(rate: float) -> str:
    """The colour of a compliance rate: linear between the stops of COMPLIANCE_SCALE."""
    for (low, low_hex), (high, high_hex) in zip(COMPLIANCE_SCALE, COMPLIANCE_SCALE[1:], strict=False):
        if rate <= high:
            share = (rate - low) / (high - low)
            low_rgb, high_rgb = bytes.fromhex(low_hex), bytes.fromhex(high_hex)
            return "".join(f"{round(a + (b - a) * share):02X}" for a, b in zip(low_rgb, high_rgb, strict=True))
    return COMPLIANCE_SCALE[-1][1]
