"""The weekly report as one self-contained HTML page: no script, no network, no web font, phone first.

Figures are inline SVG (from ``sitless.analysis.report_figures``); every number a figure shows is also in the
text (headline cards and a per-day table), and every figure has an ``aria-label``, so the page works
with a screen reader and survives being forwarded as a single file.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re

from sitless.analysis.report import WeekData
from sitless.analysis.report_figures import FIGURES, figure_svgs
from sitless.analysis.report_text import HEADLINES, format_minutes, period_text


def _per_day(totals: dict, key: str) -> float | None:
    value, days = totals.get(key), totals.get("days_with_data") or 0
    return None if value is None or not days else value / days


def _trend(key: str, lower_is_better: bool, per_day: bool, totals: dict, previous: dict | None) -> str:
    if previous is None:
        return '<p class="trend">no data for last week</p>'
    now = _per_day(totals, key) if per_day else totals.get(key)
    before = _per_day(previous, key) if per_day else previous.get(key)
    if now is None or before is None:
        return '<p class="trend">–</p>'
    change_text = ("new" if now else "same") if before == 0 else f"{abs(now - before) / before * 100:.0f} %"
    if math.isclose(now, before, rel_tol=0.02, abs_tol=1e-9):
        return f'<p class="trend same">= same as last week{" (per day)" if per_day else ""}</p>'
    up = now > before
    good = up != lower_is_better
    arrow, word = ("▲", "up") if up else ("▼", "down")
    scope = " a day" if per_day else ""
    return (
        f'<p class="trend {"good" if good else "bad"}"><span aria-hidden="true">{arrow}</span> '
        f"{word} {change_text}{scope} vs last week</p>"
    )


def _units_small(text: str) -> str:
    """ "92 h 58 min" with the units set smaller, so the number stays on one line on a phone."""
    return re.sub(r" (h|min)\b", r'<span class="unit"> \1</span>', text)


def _cards(report: dict) -> str:
    totals, previous = report["week_totals"], report["previous_week"]
    cards = []
    for label, key, fmt, lower_better, per_day in HEADLINES:
        value = totals.get(key)
        extra = ""
        if key == "sitting_min" and totals.get("days_with_data"):
            extra = f'<p class="sub">{format_minutes(_per_day(totals, key))} a day on average</p>'
        cards.append(
            f'<section class="card" aria-label="{html.escape(label)}"><h3>{html.escape(label)}</h3>'
            f'<p class="big" data-key="{key}">{_units_small(html.escape(fmt(value)))}</p>{extra}'
            f"{_trend(key, lower_better, per_day, totals, previous)}</section>"
        )
    heeded, prompts = totals["prompts_heeded"], totals["prompts"]
    share = f" ({heeded / prompts * 100:.0f} %)" if prompts else ""
    median = totals.get("median_min_to_stand")
    cards.append(
        f'<section class="card" aria-label="Prompts heeded"><h3>Prompts heeded</h3>'
        f'<p class="big" data-key="prompts_heeded">{heeded} of {prompts}</p>'
        f'<p class="sub">stood within 5 min{share}'
        f"{f'; median {median:.1f} min to stand' if median is not None else ''}</p></section>"
    )
    stretch = report.get("stretch_of_the_week")
    if not stretch:
        text = '<p class="sub">no prompts this week</p>'
    elif stretch["exercise"] is None:
        count = len(stretch["tied"])
        text = (
            '<p class="big small">No single favourite</p>'
            f'<p class="sub">{count} exercises prompted {_times(stretch["times_prompted"])} each: '
            f"{html.escape(', '.join(stretch['tied']))}</p>"
        )
    else:
        text = (
            f'<p class="big small">{html.escape(stretch["exercise"])}</p>'
            f'<p class="sub">prompted {_times(stretch["times_prompted"])}, more than any other</p>'
        )
    cards.append(
        f'<section class="card" aria-label="Stretch of the week"><h3>Stretch of the week</h3>{text}</section>'
    )
    return "\n".join(cards)


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _day_table(report: dict) -> str:
    meetings = report["week_totals"].get("meeting_min") is not None
    columns = ["Day", "Worn", "Sitting", "Breaks", "Bouts ≥ 30 min", "Longest", "Prompts heeded"]
    columns += ["Meetings"] if meetings else []
    head = "<tr>" + "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns) + "</tr>"
    rows = []
    for d in report["days"]:
        day = dt.date.fromisoformat(d["date"])
        meeting = f"<td>{format_minutes(d['meeting_min'])}</td>" if meetings else ""
        rows.append(
            f"<tr><th scope='row'>{day:%a %d %b}</th><td>{format_minutes(d['worn_min'])}</td>"
            f"<td>{format_minutes(d['sitting_min'])}</td><td>{d['breaks']}</td><td>{d['bouts_30min']}</td>"
            f"<td>{format_minutes(d['longest_bout_min'])}</td><td>{d['prompts_heeded']} / {d['prompts']}</td>{meeting}</tr>"
        )
    return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'


def _explanations(report: dict) -> str:
    """What a reader asks after reading the numbers: why prompts and bouts disagree, which seconds could
    not be classified and why, and how much of the week was meetings."""
    t = report["week_totals"]
    items = [
        "<li><strong>Prompts and bouts count differently.</strong> A prompt counts your sitting "
        "<em>spell</em> (sitting or lying), which a stand shorter than a minute does not end: fetching a "
        "coffee is not a break. A <em>bout</em> here is sitting only and ends at any upright second. So a "
        "prompt can say “sitting for 50 min” while the longest bout is 45 min.</li>",
        f"<li><strong>What the sensor could not tell.</strong> {format_minutes(t['nonwear_min'])} not worn: "
        "the sensor lay still, off a thigh (on the bedside table at night, charging). "
        f"{format_minutes(t.get('no_data_min'))} without data: no samples arrived (out of range, switched "
        "off, a flat battery). Neither counts as sitting or standing. Lying is counted apart from sitting, "
        "but lying on a sofa with the thighs level can read as sitting: a thigh sensor sees the thigh, "
        "not the back.</li>",
    ]
    if t.get("meeting_min") is not None:
        items.append(
            f"<li><strong>Meetings.</strong> {format_minutes(t['meeting_min'])} in busy calendar events, "
            f"{format_minutes(t['sitting_in_meetings_min'])} of it sitting. Prompts due in a meeting waited "
            "for its end.</li>"
        )
    else:
        items.append("<li><strong>Meetings.</strong> No calendar is set: with <code>[calendar] ics</code> "
                     "prompts wait for a meeting to end and this report shows meeting time.</li>")  # fmt: skip
    return f'<ul class="notes">{"".join(items)}</ul>'


def _figure_descriptions(report: dict) -> dict[str, str]:
    t = report["week_totals"]
    return {
        "strip": "A 24-hour strip for each day, coloured by posture: sitting, lying, standing, walking, cycling, not worn.",
        "postures": f"Stacked bars of hours per posture each day; {format_minutes(t['sitting_min'])} of sitting this week.",
        "bands": f"Sitting time each day by bout length; {format_minutes(t['min_in_bouts_30min'])} in bouts of 30 minutes or more.",
        "hours": "A grid of the hours of each day: green when you were up for at least a minute, red when you sat through the hour.",
        "distribution": f"Cumulative share of sitting time by bout length; half the sitting time was in bouts of {format_minutes(t['w50_min'])} or longer (W50).",
        "prompts": f"Prompts per day and how many you answered by standing within 5 minutes: {t['prompts_heeded']} of {t['prompts']}.",
    }


CSS = """
:root{--ink:#2b2b2b;--muted:#6b6b6b;--bg:#f6f4f1;--card:#fff;--good:#2f7d32;--bad:#c0392b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:760px;margin:0 auto;padding:16px 14px 40px}
header h1{font-size:1.5rem;margin:.2em 0 0}
header p{margin:.2em 0;color:var(--muted)}
h2{font-size:1.15rem;margin:1.6em 0 .5em}
.cards{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px;margin-top:14px}
.card{background:var(--card);border-radius:14px;padding:12px 14px;box-shadow:0 1px 3px rgba(0,0,0,.07)}
.card h3{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:0}
.big{font-size:1.5rem;font-weight:700;margin:.15em 0;line-height:1.15}
.big.small{font-size:1.25rem}
.unit{font-size:.6em;font-weight:600}
.nowrap{white-space:nowrap}
.sub,.trend{margin:.1em 0;font-size:.85rem;color:var(--muted)}
.trend.good{color:var(--good)}.trend.bad{color:var(--bad)}
figure{margin:0 0 14px;background:var(--card);border-radius:14px;padding:10px 8px 6px;box-shadow:0 1px 3px rgba(0,0,0,.07)}
figure svg{display:block;width:100%;height:auto}
figcaption{font-size:.85rem;color:var(--muted);padding:4px 6px 2px}
.scroll{overflow-x:auto;background:var(--card);border-radius:14px;box-shadow:0 1px 3px rgba(0,0,0,.07)}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{padding:7px 8px;text-align:right;white-space:nowrap;border-bottom:1px solid #eee}
th[scope=row],thead th:first-child{text-align:left}
footer{margin-top:24px;font-size:.8rem;color:var(--muted)}
.notes{padding-left:1.2em;font-size:.9rem}.notes li{margin:.4em 0}
@media (min-width:620px){.cards{grid-template-columns:repeat(4,minmax(0,1fr))}}
"""


def render_html(report: dict, week: WeekData) -> str:
    """The whole page as one string."""
    totals = report["week_totals"]
    svgs = figure_svgs(report, week)
    descriptions = _figure_descriptions(report)
    figures = []
    for key, title, _make in FIGURES:
        label = html.escape(descriptions[key], quote=True)
        svg = svgs[key].replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
        figures.append(
            f'<h2>{html.escape(title)}</h2><figure id="fig-{key}">{svg}<figcaption>{html.escape(descriptions[key])}</figcaption></figure>'
        )
    alpha = (
        f"alpha {totals['alpha']:.2f} (x_min {totals['alpha_x_min_min']:.1f} min)"
        if totals.get("alpha") is not None
        else "alpha: fewer than 10 bouts"
    )
    gini = f"Gini {totals['gini']:.2f}" if totals.get("gini") is not None else "Gini: fewer than 10 bouts"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>sitless – week {html.escape(report["week"])}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<h1>Your sitting week <span class="nowrap">{html.escape(report["week"])}</span></h1>
<p>{html.escape(period_text(report))}</p>
</header>
<div class="cards">
{_cards(report)}
</div>
{"".join(figures)}
<h2>Day by day</h2>
{_day_table(report)}
<h2>Reading this report</h2>
{_explanations(report)}
<footer>
<p>Bout distribution: {totals["n_bouts"]} sitting bouts, W50 {format_minutes(totals["w50_min"])}, {alpha}, {gini}.
Definitions and sources: docs/metrics.md in sitless.</p>
</footer>
</main>
</body>
</html>
"""
