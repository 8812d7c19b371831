"""A mock round's scorecard as a file: Markdown or a self-contained HTML page."""

from __future__ import annotations

import html
from pathlib import Path

from coach.clock import clock
from coach.coaching.mock import mean_text
from coach.errors import CoachError

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def score_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def report_format(path: Path) -> str:
    """The export format from the file name; checked before a round starts so no answer is wasted."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise CoachError(f"{path}: export to a .md or .html file")
    parent = Path(path).parent
    if not parent.is_dir():
        raise CoachError(f"{path}: the directory {parent} does not exist")
    return fmt


def _status(q) -> str:
    if q.status == "graded":
        return score_text(q.score)
    if q.status == "skipped":
        return "skipped (0)"
    return q.status


def _probes(q) -> str:
    return ", ".join(score_text(s) for s in q.probe_scores) or "—"


def _time(q) -> str:
    used = f"{clock(q.seconds_used)} / {clock(q.seconds_allowed)}"
    return used + (" over time" if q.overtime else "")


def area_text(a) -> str:
    """An area with what its percentage means: the share of its rubric points the answers covered."""
    return f"{a.name}: covered {round(a.credit * 100)}% of its {a.points} rubric point{'s' if a.points != 1 else ''}"


def questions_text(n: int) -> str:
    return f"{n} question{'s' if n != 1 else ''}"


def to_markdown(card) -> str:
    lines = [
        f"# Mock interview scorecard: {card.title}",
        "",
        (
            f"Round {card.round}, {questions_text(len(card.questions))} in {card.minutes} minutes"
            f" (graded by: {', '.join(card.graders) or 'nobody yet'})."
        ),
        "",
        f"**Verdict: {card.verdict}.** " + "; ".join(card.reasons) + ("." if card.reasons else ""),
        "",
        f"The bar: {card.bar}",
        "",
        "| # | question | kind | score | probes | time used / allowed |",
        "|---|---|---|---|---|---|",
    ]
    for q in card.questions:
        lines.append(
            f"| {q.position} | {q.question_id} | {q.kind} | {_status(q)} | {_probes(q)} | {_time(q)} |"
        )
    mean = mean_text(card.mean)
    lines += ["", f"Mean score: {mean}/10. Lowest: {score_text(card.lowest)}.", ""]
    lines += (
        ["## Strongest areas", ""]
        + [f"- {area_text(a)}" for a in card.strongest]
        + (["- none yet"] if not card.strongest else [])
        + [""]
    )
    lines += (
        ["## Weakest areas", ""]
        + [f"- {area_text(a)}" for a in card.weakest]
        + (["- none"] if not card.weakest else [])
        + [""]
    )
    lines += (
        ["## Fix these first", ""] + [f"{i}. {t}" for i, t in enumerate(card.fix_first, 1)] + [""]
    )
    lines += ["## Questions", ""] + [
        f"{q.position}. **{q.question_id}**: {q.question}" for q in card.questions
    ]
    return "\n".join(lines) + "\n"


def to_html(card) -> str:
    e = html.escape
    over = ' class="over"'
    rows = "\n".join(
        f"<tr{over if q.overtime else ''}><td>{q.position}</td><td>{e(q.question_id)}</td>"
        f"<td>{e(q.kind)}</td><td>{e(_status(q))}</td><td>{e(_probes(q))}</td><td>{e(_time(q))}</td></tr>"
        for q in card.questions
    )

    def items(values, tag="ul"):
        return f"<{tag}>" + "".join(f"<li>{e(v)}</li>" for v in values) + f"</{tag}>"

    mean = mean_text(card.mean)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Mock interview scorecard: {e(card.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 860px; margin: 2em auto; line-height: 1.45; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
tr.over td {{ background: #fff3cd; }}
.verdict {{ font-size: 1.3em; font-weight: bold; }}
</style>
</head>
<body>
<h1>Mock interview scorecard: {e(card.title)}</h1>
<p>Round {e(card.round)}, {questions_text(len(card.questions))} in {card.minutes} minutes (graded by: {e(", ".join(card.graders) or "nobody yet")}).</p>
<p class="verdict">Verdict: {e(card.verdict)}</p>
{items(card.reasons)}
<p>The bar: {e(card.bar)}</p>
<table>
<tr><th>#</th><th>question</th><th>kind</th><th>score</th><th>probes</th><th>time used / allowed</th></tr>
{rows}
</table>
<p>Mean score: {mean}/10. Lowest: {score_text(card.lowest)}.</p>
<h2>Strongest areas</h2>
{items([area_text(a) for a in card.strongest] or ["none yet"])}
<h2>Weakest areas</h2>
{items([area_text(a) for a in card.weakest] or ["none"])}
<h2>Fix these first</h2>
{items(card.fix_first, "ol")}
<h2>Questions</h2>
{items([f"{q.question_id}: {q.question}" for q in card.questions], "ol")}
</body>
</html>
"""


def write_report(card, path: Path) -> Path:
    """Write the scorecard as Markdown or HTML, by the file's suffix."""
    path = Path(path)
    text = to_html(card) if report_format(path) == "html" else to_markdown(card)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CoachError(f"cannot write {path} ({exc.strerror})") from None
    return path
