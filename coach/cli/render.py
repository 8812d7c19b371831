"""All terminal output (Rich) lives here; the library below the CLI never prints."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from coach.clock import clock
from coach.coaching.mock import mean_text
from coach.coaching.progress import SPEAKING_WINDOW
from coach.export.scorecard import area_text, score_text
from coach.voice.delivery import Delivery

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    "covered": "green",
    "partial": "yellow",
    "missed": "red",
    "contradicted": "bold red",
}
STATUS_MARK = {
    "covered": "✔ covered",
    "partial": "~ partial",
    "missed": "✘ missed",
    "contradicted": "✘ contradicted",
}


def error(message: str) -> None:
    """One line on stderr; never a traceback."""
    flat = " ".join(str(message).split())
    err_console.print(f"[bold red]error:[/] {escape(flat)}", soft_wrap=True)


def notice(message: str) -> None:
    err_console.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True)


def progress_note(message: str) -> None:
    """What the coach is busy with, on stderr (so `--json` on stdout stays parseable) and only on a
    terminal, like the progress bar (a script reading stderr gets errors only)."""
    if err_console.is_terminal:
        err_console.print(f"[dim]{message}[/]", soft_wrap=True)


def info(message: str) -> None:
    console.print(message, soft_wrap=True)


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def progress_bar(description: str):
    """A Rich progress bar on a terminal; silent when output is piped."""
    if not err_console.is_terminal:
        yield lambda label, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console
    ) as progress:
        tasks: dict[str, int] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(f"{description} {label}", total=total)
            progress.update(tasks[label], completed=done, total=total)

        yield update


# --- config, ingest, questions ---------------------------------------------------------------


def config_table(rows: list[tuple[str, str, str]]) -> None:
    table = Table(title="Effective settings", title_justify="left")
    table.add_column("variable", style="bold")
    table.add_column("value")
    table.add_column("from", style="dim")
    for variable, value, source in rows:
        table.add_row(variable, escape(value), escape(source))
    console.print(table)


DOCTOR_MARK = {"ok": ("✔ ok", "green"), "fail": ("✘ fail", "red"), "skip": ("– skipped", "dim")}


def doctor_report(report) -> None:
    table = Table(
        title=f"LLM endpoint {report.endpoint}, model {report.model}", title_justify="left"
    )
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for c in report.checks:
        mark, style = DOCTOR_MARK[c.status]
        table.add_row(c.name, Text(mark, style=style), escape(c.detail))
    console.print(table)
    for method, outcome in report.tried:
        console.print(f"  {method:8} {escape(outcome)}", soft_wrap=True)
    if report.method:
        where = f" (cached in {report.cache_path})" if report.cache_path else ""
        console.print(f"Structured output: [bold]{report.method}[/]{escape(where)}", soft_wrap=True)
    if not report.ok:
        err_console.print("[red]The endpoint is not ready for LLM grading.[/]", soft_wrap=True)


def doctor_dict(report) -> dict:
    return {
        "endpoint": report.endpoint,
        "model": report.model,
        "ok": report.ok,
        "method": report.method,
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in report.checks],
        "tried": [{"method": m, "outcome": o} for m, o in report.tried],
        "models": report.models,
        "cache": str(report.cache_path) if report.cache_path else None,
    }


def ingest_report(report, location: str) -> None:
    for r in report.reports:
        console.print(
            f"{r.collection:10} {r.added:4} embedded  {r.deleted:4} deleted  {r.unchanged:4} unchanged"
        )
    if report.embedded == 0:
        console.print(f"Store is up to date ({location}); nothing was embedded.")
    else:
        console.print(f"Embedded {report.embedded} documents into {location}.")


def questions_table(questions, title: str = "Questions") -> None:
    table = Table(title=f"{title} ({len(questions)})", title_justify="left")
    for column in ("id", "round", "kind", "source", "question"):
        table.add_column(column, overflow="fold")
    for q in questions:
        table.add_row(q.id, q.round, q.kind, f"{q.source} ({q.origin})", escape(q.text))
    console.print(table)


def search_results(results) -> None:
    table = Table(title="Nearest questions", title_justify="left")
    table.add_column("similarity", justify="right")
    table.add_column("id")
    table.add_column("question", overflow="fold")
    for question, similarity in results:
        table.add_row(f"{similarity:.3f}", question.id, escape(question.text))
    console.print(table)


def question_panel(question, index: str = "") -> None:
    header = f"{index}[bold]{question.id}[/]  round {question.round} · {question.kind} · {question.category}"
    body = Text(question.prompt)
    if question.follows:
        body.append(f"\n(follow-up in the same conversation as {question.follows})", style="dim")
    console.print(Panel(body, title=header, title_align="left"))


# --- rubric and grades -----------------------------------------------------------------------


def rubric(rub) -> None:
    table = Table(
        title=f"Rubric for {rub.question_id} ({rub.kind}); notes: {', '.join(rub.note_ids) or 'reference answer'}",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("criterion", overflow="fold")
    table.add_column("from", style="dim")
    for i, c in enumerate(rub.criteria, 1):
        style = "dim italic" if c.dimension else ""
        text = Text(c.text, style=style)
        if c.level == "staff":
            text = Text.assemble(("staff, bonus: ", "bold cyan"), text)
        table.add_row(str(i), f"{c.weight:.2f}", text, c.source)
    console.print(table)
    if any(c.level == "staff" for c in rub.criteria):
        console.print(
            "[dim]Staff points are a bonus: covering them raises the score, missing them does not lower it.[/]"
        )


def rubric_sources(rows) -> None:
    """Per imported question: where its rubric will come from."""
    table = Table(title="Where each question's rubric comes from", title_justify="left")
    table.add_column("question", overflow="fold")
    table.add_column("rubric", overflow="fold")
    for question, source in rows:
        style = "red" if source.kind == "none" else ""
        table.add_row(
            f"{question.id}\n[dim]{escape(question.text)}[/]", Text(source.describe(), style=style)
        )
    console.print(table)
    missing = sum(source.kind == "none" for _, source in rows)
    if missing:
        console.print(
            f"[yellow]{missing} question(s) have no rubric and cannot be graded: add a 'reference:' line "
            "under each in the bank file and import it again.[/]"
        )


FIRST_FIXES = 3


def grade(g, details: bool = False) -> None:
    """The score, the verdict and what to fix first (fits a 50-row terminal); `details` adds the
    whole rubric table, the strengths and the outline of a strong answer."""
    colour = "green" if g.score >= 7 else "yellow" if g.score >= 4 else "red"
    title = f"[bold {colour}]{g.score:.1f}/10[/]  {escape(g.verdict)}"
    console.print(Panel(Text(g.notice or "", style="dim"), title=title, title_align="left"))
    for flag in g.flags:
        console.print(f"[bold magenta]flag:[/] {escape(flag)}")
    if details:
        table = Table(title="Rubric coverage", title_justify="left", show_lines=False)
        table.add_column("criterion", overflow="fold", ratio=3)
        table.add_column("status", no_wrap=True)
        table.add_column("evidence from your answer", overflow="fold", ratio=2)
        for c in g.criteria:
            table.add_row(
                escape(c.text),
                Text(STATUS_MARK[c.status], style=STATUS_STYLE[c.status]),
                Text(f"\u201c{c.evidence}\u201d" if c.evidence else "\u2014", style="italic"),
            )
        console.print(table)
        _bullets("Strengths", g.strengths, "green")
        _bullets("To fix, most important first", g.gaps, "red")
        _bullets("Next steps", g.next_steps, "cyan")
        _bullets("Outline of a strong answer", g.outline, "blue", numbered=True)
        return
    content = [c for c in g.criteria if not c.criterion_id.startswith("dim-")]
    counts = {status: sum(c.status == status for c in content) for status in STATUS_MARK}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    console.print(f"[dim]Rubric points: {summary}.[/]")
    _bullets("Strengths", g.strengths[:2], "green")
    _bullets("Fix these first", g.gaps[:FIRST_FIXES], "red")
    if len(g.gaps) > FIRST_FIXES or g.outline:
        console.print(
            "[dim]The full rubric table, every gap and a strong-answer outline: --details (or 'd' in practice).[/]"
        )


def _bullets(title: str, items, colour: str, numbered: bool = False) -> None:
    if not items:
        return
    console.print(f"\n[bold {colour}]{title}[/]")
    # A grid wraps each item at word boundaries with a hanging indent.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    for i, item in enumerate(items, 1):
        grid.add_row(f"  {i}." if numbered else "  •", Text(item))
    console.print(grid)


def attempts_table(attempts) -> None:
    """Answers newest first; each answer's follow-up (probe) answers are listed under it, indented."""
    roots = [a for a in attempts if a.parent_id is None]
    children: dict[int, list] = {}
    for a in attempts:
        if a.parent_id is not None:
            children.setdefault(a.parent_id, []).append(a)
    shown = {a.id for a in roots}
    orphans = [a for a in attempts if a.parent_id is not None and a.parent_id not in shown]
    table = Table(
        title=f"History ({len(roots)} answers, {len(attempts) - len(roots)} follow-up answers)",
        title_justify="left",
    )
    for column in ("id", "when", "question", "status", "grader", "score"):
        table.add_column(column)

    def row(a, follow_up: bool) -> None:
        score = f"{a.grade.score:.1f}" if a.grade else "\u2014"
        status = a.status + (f" ({a.error})" if a.error and a.status != "graded" else "")
        question = f"  \u21b3 follow-up to {a.parent_id}" if follow_up else a.question_id
        table.add_row(
            str(a.id), a.created_at.strftime("%Y-%m-%d %H:%M"), question, status, a.grader, score
        )

    for a in roots:
        row(a, False)
        for child in sorted(children.get(a.id, []), key=lambda c: c.id):
            row(child, True)
    for a in orphans:
        row(a, True)
    console.print(table)


def attempt(a, question=None) -> None:
    console.print(
        f"[bold]Attempt {a.id}[/] · {a.question_id} · {a.created_at:%Y-%m-%d %H:%M} · {a.status}"
        + (f" (follow-up to attempt {a.parent_id})" if a.parent_id else "")
    )
    if question is not None:
        question_panel(question)
    title = "Your answer (spoken; the transcript)" if a.spoken else "Your answer"
    console.print(Panel(Text(a.answer), title=title, title_align="left"))
    if a.delivery:
        delivery(a.delivery)
    if a.grade:
        grade(a.grade)
    elif a.error:
        console.print(f"[red]Not graded yet:[/] {escape(a.error)}  (run `coach regrade {a.id}`)")


@contextmanager
def recording_meter(budget_s: float, limit_s: float):
    """A live line while recording: elapsed time against the budget (red once over it) and a level
    meter, so the candidate sees the microphone hears them. Yields tick(elapsed_s, level 0..1)."""
    if not console.is_terminal:
        yield lambda elapsed, level: None
        return
    from rich.live import Live

    def line(elapsed: float, level: float) -> Text:
        bars = round(max(0.0, min(1.0, level)) * 20)
        over = elapsed > budget_s
        text = Text("● REC ", style="bold red")
        text.append(f"{clock(elapsed)} / {clock(budget_s)}", style="bold red" if over else "bold")
        text.append("  " + "█" * bars + "░" * (20 - bars), style="green" if bars else "dim")
        text.append(f"  stops at {clock(limit_s)} · Enter to finish", style="dim")
        return text

    with Live(line(0.0, 0.0), console=console, refresh_per_second=10, transient=True) as live:
        yield lambda elapsed, level: live.update(line(elapsed, level))


def delivery(measured: dict) -> None:
    """How a spoken answer was delivered: duration against the budget, pace, fillers, pauses."""
    notes = Delivery.from_dict(measured).notes()
    engine = measured.get("engine")
    _bullets("How you said it" + (f" (transcribed by {engine})" if engine else ""), notes, "cyan")


@contextmanager
def status(message: str):
    """A spinner on a terminal; nothing when piped."""
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        yield


def corpus_report(report) -> None:
    table = Table(title="Coverage: notes and rubric points per question", title_justify="left")
    for column in ("question", "kind", "notes", "key points"):
        table.add_column(column)
    for row in report.coverage:
        style = "red" if row.key_points < 4 else ""
        table.add_row(
            row.question_id,
            row.kind,
            ", ".join(row.note_ids) or "—",
            str(row.key_points),
            style=style,
        )
    console.print(table)
    console.print(
        f"{report.notes} notes, {report.questions} questions, {len(report.problems)} problems"
    )
    for problem in report.problems:
        err_console.print(f"[red]problem:[/] {escape(problem)}", soft_wrap=True)


def eval_report(result) -> None:
    m = result.metrics
    table = Table(
        title=f"Agreement with human scores ({m['grader']} grader, {m['n']} rows)",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (
        "pearson",
        "spearman",
        "qwk",
        "rmse",
        "mae",
        "within_1",
        "wall_seconds",
        "rows_per_second",
    ):
        value = m.get(key)
        table.add_row(key, "n/a" if value is None else f"{value:.3f}")
    console.print(table)
    if m.get("by_label"):
        levels = Table(title="Mean score by label", title_justify="left")
        for column, justify in (
            ("label", "left"),
            ("rows", "right"),
            ("grader", "right"),
            ("human", "right"),
        ):
            levels.add_column(column, justify=justify)
        for label, g in m["by_label"].items():
            levels.add_row(
                escape(label), str(g["n"]), f"{g['grader_mean']:.1f}", f"{g['human_mean']:.1f}"
            )
        console.print(levels)
    kinds = ", ".join(
        f"{kind} {'n/a' if value is None else f'{value:.2f}'}"
        for kind, value in m.get("spearman_by_kind", {}).items()
    )
    if kinds:
        console.print(f"Spearman by kind of question: {kinds}")
    console.print(
        f"{m['graded_by_rubric']} rows graded against the question's rubric (as `coach grade` does), "
        f"{m['graded_by_reference']} against their reference answer (no bank question_id)."
    )
    if result.failed:
        notice(
            f"{result.failed} of {m['rows']} rows could not be graded and were left out of the metrics:"
        )
        for reason in m["failures"]:
            console.print(f"  • {escape(reason)}")


PLAN_MARK = {
    "review": ("↻ re-attempt", "cyan"),
    "new": ("+ new", "green"),
    "note": ("≡ read", "blue"),
    "mock": ("◆ mock", "magenta"),
}
SPARK = "▁▂▃▄▅▆▇█"
CHART_LIMIT = 30  # attempts drawn in the terminal chart (the most recent)


def spark(scores) -> str:
    """A sparkline of 0-10 scores."""
    return "".join(SPARK[min(len(SPARK) - 1, int(s / 10 * len(SPARK)))] for s in scores)


def _score_style(score: float) -> str:
    return "green" if score >= 7 else "yellow" if score >= 4 else "red"


def study_plan(plan) -> None:
    header = (
        f"Interview on [bold]{plan.interview_date:%a %Y-%m-%d}[/], {len(plan.days)} days of study, "
        f"{plan.hours_per_day:g} h ({plan.budget} min) a day"
    )
    console.print(header)
    if plan.narrative:
        console.print(Panel(Text(plan.narrative), title="Summary", title_align="left"))
    elif plan.narrative_error:
        notice(f"no summary: {plan.narrative_error}")
    if plan.weak_topics:
        weakest = ", ".join(f"{s.name} ({s.average:.1f})" for s in plan.weak_topics)
        console.print(f"Weakest topics: {escape(weakest)}", soft_wrap=True)
    for day in plan.visible:
        table = Table(
            title=f"{day.day:%a %Y-%m-%d}  ({day.minutes} of {day.budget} min)",
            title_justify="left",
        )
        table.add_column("", no_wrap=True)
        table.add_column("min", justify="right")
        table.add_column("what", overflow="fold", ratio=2)
        table.add_column("why", overflow="fold", ratio=2, style="dim")
        for item in day.items:
            mark, colour = PLAN_MARK[item.kind]
            what = item.title
            if item.kind == "mock":
                what += ": " + ", ".join(item.question_ids)
            if item.points:
                what += "\nfocus: " + "; ".join(point.rstrip(".") for point in item.points)
            table.add_row(
                Text(mark, style=colour), str(item.minutes), Text(what), Text(item.reason)
            )
        if not day.items:
            table.add_row("", "", Text("rest", style="dim"), "")
        console.print(table)
    if plan.hidden_days:
        console.print(
            f"[dim]{plan.hidden_days} more days until the interview are not shown (--days).[/]"
        )
    if plan.unfitted:
        console.print(f"\n[bold red]Did not fit before the interview ({len(plan.unfitted)})[/]")
        for item in plan.unfitted:
            console.print(
                f"  • {escape(item.title)} ({item.minutes} min): {escape(item.reason)}",
                soft_wrap=True,
            )
    else:
        console.print("\n[green]Everything required fits before the interview.[/]")
    if plan.remaining_new:
        console.print(
            f"[dim]{plan.remaining_new} questions you have never attempted are not in the plan.[/]"
        )


def progress_report(report) -> None:
    if not report.series:
        console.print("No graded attempts yet: answer a question with `coach practice`.")
        return
    console.print(
        f"{report.attempts} graded answers, average {report.average:.1f}/10 "
        f"({report.series[0].when:%Y-%m-%d} to {report.series[-1].when:%Y-%m-%d})"
    )
    for title, stats in (("By round", report.rounds), ("By topic, weakest first", report.topics)):
        table = Table(title=title, title_justify="left")
        for column, justify in (
            ("", "left"),
            ("attempts", "right"),
            ("average", "right"),
            ("best", "right"),
            ("last 5", "left"),
            ("trend", "right"),
        ):
            table.add_column(column, justify=justify, no_wrap=column == "last 5")
        for s in stats:
            trend = s.trend
            arrow = "" if trend is None else "↑" if trend > 0 else "↓" if trend < 0 else "→"
            table.add_row(
                escape(s.name),
                str(s.attempts),
                Text(f"{s.average:.1f}", style=_score_style(s.average)),
                f"{s.best:.1f}",
                f"{spark(s.last)} {' '.join(f'{x:.1f}' for x in s.last)}",
                "\u2014" if trend is None else f"{arrow} {trend:+.1f}",
            )
        console.print(table)
    console.print(
        "[dim]trend: the mean change on questions you answered more than once (\u2014: none yet).[/]"
    )
    due = Table(title=f"Due today ({report.today:%Y-%m-%d}, FSRS)", title_justify="left")
    due.add_column("question")
    due.add_column("due since", no_wrap=True)
    due.add_column("last", justify="right")
    due.add_column("what", overflow="fold")
    for item in report.due_questions:
        due.add_row(
            item.question_id,
            f"{item.due:%Y-%m-%d}",
            f"{item.last_score:.1f}" if item.last_score is not None else "—",
            escape(item.text),
        )
    for item in report.due_points:
        due.add_row(
            item.question_id,
            f"{item.due:%Y-%m-%d}",
            "",
            Text(f"missed point: {item.text}", style="dim"),
        )
    if report.due_questions or report.due_points:
        console.print(due)
    else:
        console.print("Nothing is due today.")
    shown = report.series[-CHART_LIMIT:]
    chart = Table(
        title=f"Score over time (last {len(shown)} of {len(report.series)})",
        title_justify="left",
        box=None,
    )
    chart.add_column("when", no_wrap=True, style="dim")
    chart.add_column("question", no_wrap=True)
    chart.add_column("score", no_wrap=True)
    for p in shown:
        filled = round(p.score * 2)
        bar = Text("█" * filled, style=_score_style(p.score))
        bar.append("░" * (20 - filled), style="dim")
        bar.append(f" {p.score:.1f}")
        chart.add_row(f"{p.when:%Y-%m-%d}", p.question_id, bar)
    console.print(chart)
    speaking(report.speaking)


SPEAKING_COLUMNS = (  # (column, measure of a Delivery, format)
    ("words/min", lambda d: d.wpm, lambda v: f"{v:.0f}"),
    ("fillers/min", lambda d: d.fillers_per_min, lambda v: f"{v:.1f}"),
    ("pauses > 2 s", lambda d: len(d.pauses), lambda v: f"{v:.0f}"),
    ("longest without a signpost", lambda d: d.longest_unstructured_s, clock),
)


def speaking(report) -> None:
    """Spoken answers over time: the last few, and the first few against the latest few."""
    if not report.answers:
        return
    shown = report.answers[-CHART_LIMIT:]
    table = Table(
        title=f"Speaking (last {len(shown)} of {len(report.answers)} spoken answers)",
        title_justify="left",
    )
    for column in ("when", "question", "length", "budget") + tuple(
        c for c, _, _ in SPEAKING_COLUMNS
    ):
        table.add_column(column, no_wrap=column in ("when", "question"))
    for s in shown:
        d = s.delivery
        table.add_row(
            f"{s.when:%Y-%m-%d}",
            s.question_id,
            Text(clock(d.duration_s), style="red" if d.over_budget else ""),
            clock(d.budget_s) if d.budget_s else "\u2014",
            *(fmt(measure(d)) for _, measure, fmt in SPEAKING_COLUMNS),
        )
    console.print(table)
    if len(report.answers) > SPEAKING_WINDOW:
        changes = []
        for column, measure, fmt in SPEAKING_COLUMNS[:3]:
            first, latest = report.mean(measure, first=True), report.mean(measure, first=False)
            changes.append(f"{column} {fmt(first)} \u2192 {fmt(latest)}")
        console.print(
            f"[dim]Your first {SPEAKING_WINDOW} spoken answers against your latest {SPEAKING_WINDOW}: "
            + "; ".join(changes)
            + ".[/]"
        )


COMPARE_MARK = {1: ("▲ better", "green"), -1: ("▼ worse", "red"), 0: ("·", "dim")}


def retry_progress(cmp) -> None:
    """After a retry: the score change and the rubric points that flipped since the previous attempt."""
    change = cmp.score_change
    colour = "green" if change > 0 else "red" if change < 0 else "dim"
    console.print(
        f"[bold]Since attempt {cmp.a.id}:[/] {cmp.a.grade.score:.1f} \u2192 {cmp.b.grade.score:.1f} "
        f"[{colour}]({change:+.1f})[/]"
    )
    _bullets(
        "Better than last time",
        [f"{p.text} ({p.before} \u2192 {p.after})" for p in cmp.gained],
        "green",
    )
    _bullets(
        "Worse than last time", [f"{p.text} ({p.before} \u2192 {p.after})" for p in cmp.lost], "red"
    )
    if not cmp.points:
        console.print("[dim]No rubric point changed status.[/]")


def comparison(cmp) -> None:
    a, b = cmp.a, cmp.b
    change = cmp.score_change
    colour = "green" if change > 0 else "red" if change < 0 else "dim"
    console.print(
        f"[bold]{cmp.question_id}[/]: attempt {a.id} ({a.created_at:%Y-%m-%d}) {a.grade.score:.1f} → "
        f"attempt {b.id} ({b.created_at:%Y-%m-%d}) {b.grade.score:.1f}  [{colour}]({change:+.1f})[/]"
    )
    if a.grade.grader != b.grade.grader:
        notice(
            f"graded by different graders ({a.grade.grader}, {b.grade.grader}); scores are less comparable"
        )
    if cmp.points:
        table = Table(title="Rubric points that changed", title_justify="left")
        table.add_column("criterion", overflow="fold", ratio=3)
        table.add_column(f"A ({a.id})", no_wrap=True)
        table.add_column(f"B ({b.id})", no_wrap=True)
        table.add_column("", no_wrap=True)
        for p in cmp.points:
            mark, style = COMPARE_MARK[p.direction]
            table.add_row(
                escape(p.text),
                Text(STATUS_MARK[p.before], style=STATUS_STYLE[p.before])
                if p.before
                else Text("—", style="dim"),
                Text(STATUS_MARK[p.after], style=STATUS_STYLE[p.after])
                if p.after
                else Text("—", style="dim"),
                Text(mark, style=style),
            )
        console.print(table)
    else:
        console.print("No rubric point changed status.")
    if cmp.sentences:
        table = Table(
            title=f"Changed sentences ({cmp.unchanged_sentences} unchanged)",
            title_justify="left",
            show_lines=True,
        )
        table.add_column(f"A ({a.id})", overflow="fold", ratio=1)
        table.add_column(f"B ({b.id})", overflow="fold", ratio=1)
        for s in cmp.sentences:
            table.add_row(
                Text(s.before, style="red" if s.before else ""),
                Text(s.after, style="green" if s.after else ""),
            )
        console.print(table)
    else:
        console.print("The two answers have the same sentences.")


# --- threads and mock rounds -----------------------------------------------------------------


def thread(entries, question=None) -> None:
    """An attempt, then each follow-up probe asked about it with its answer and grade."""
    for i, entry in enumerate(entries):
        probe = entry.probe
        if probe is None:
            attempt(entry.attempt, question if i == 0 else None)
            continue
        console.print()
        targets = "; ".join(c.text for c in probe.targets)
        console.print(
            Panel(
                Text(probe.text),
                title=f"[bold cyan]Follow-up probe[/] ({probe.kind})",
                title_align="left",
            )
        )
        console.print(Text(f"It tests: {targets}", style="dim"), soft_wrap=True)
        if entry.attempt is not None:
            attempt(entry.attempt)
        else:
            console.print(f"[dim]{'skipped' if probe.status == 'skipped' else 'not answered'}[/]")


def mock_intro(session, info) -> None:
    count = len(session.items)
    lines = [
        (
            f"{count} question{'s' if count != 1 else ''} in {session.minutes} minutes: "
            f"{clock(session.seconds_allowed)} for each question and its follow-ups."
        ),
        "Answers are saved and graded as you go; the scores come at the end, on the scorecard.",
        f"The bar: {info.bar.describe()}",
    ]
    if session.answered:
        lines.insert(0, f"Resumed: {session.answered} of {count} questions answered already.")
    console.print(
        Panel(
            Text("\n".join(lines)), title=f"[bold]Mock {escape(info.title)}[/]", title_align="left"
        )
    )


def mock_result(outcome, seconds_used: float, seconds_left: float) -> None:
    left = (
        f"{clock(seconds_left)} left for this question"
        if seconds_left >= 0
        else f"[bold red]{clock(seconds_left)} over time[/]"
    )
    if outcome.grade is None:
        error(f"saved as attempt {outcome.attempt_id}, not graded: {outcome.error}")
    console.print(
        f"[dim]Saved as attempt {outcome.attempt_id}; answered in {clock(seconds_used)}; {left}.[/]"
    )


def finished_rounds(sessions, shown: int) -> None:
    """The finished mock rounds, one line each; the one shown is marked."""
    for session in sessions:
        mark = "\u25b6" if session.id == shown else " "
        console.print(
            f"[dim]{mark} round #{session.id}: {session.created_at:%Y-%m-%d %H:%M}, round {session.round}, "
            f"{len(session.items)} question{'s' if len(session.items) != 1 else ''}[/]"
        )


def scorecard(card) -> None:

    colour = {"Hire": "green", "Lean hire": "green", "Lean no hire": "yellow"}.get(
        card.verdict, "red"
    )
    mean = mean_text(card.mean)
    body = Text("; ".join(card.reasons) + ("." if card.reasons else ""))
    body.append(f"\n{card.bar}", style="dim")
    console.print(
        Panel(
            body,
            title=f"[bold {colour}]{card.verdict}[/]  {escape(card.title)}  (mean {mean}/10)",
            title_align="left",
        )
    )
    table = Table(
        title=f"Scorecard, round {card.round} ({card.minutes} minutes)", title_justify="left"
    )
    for column in ("#", "question", "kind", "score", "probes", "time used / allowed"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for q in card.questions:
        score = (
            score_text(q.score)
            if q.status == "graded"
            else ("0 (skipped)" if q.status == "skipped" else q.status)
        )
        time_used = f"{clock(q.seconds_used)} / {clock(q.seconds_allowed)}"
        table.add_row(
            str(q.position),
            q.question_id,
            q.kind,
            score,
            ", ".join(score_text(s) for s in q.probe_scores) or "—",
            Text(time_used + (" over" if q.overtime else ""), style="red" if q.overtime else ""),
        )
    console.print(table)
    _bullets("Strongest areas", [area_text(a) for a in card.strongest], "green")
    _bullets("Weakest areas", [area_text(a) for a in card.weakest], "red")
    _bullets("Fix these first", card.fix_first, "cyan", numbered=True)
