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

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)

STATUS_STYLE = {"covered": "green", "partial": "yellow", "missed": "red"}
STATUS_MARK = {"covered": "✔ covered", "partial": "~ partial", "missed": "✘ missed"}


def error(message: str) -> None:
    """One line on stderr; never a traceback."""
    flat = " ".join(str(message).split())
    err_console.print(f"[bold red]error:[/] {escape(flat)}", soft_wrap=True)


def notice(message: str) -> None:
    err_console.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True)


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
        table.add_row(str(i), f"{c.weight:.2f}", Text(c.text, style=style), c.source)
    console.print(table)


def grade(g, question=None) -> None:
    colour = "green" if g.score >= 7 else "yellow" if g.score >= 4 else "red"
    title = f"[bold {colour}]{g.score:.1f}/10[/]  {escape(g.verdict)}"
    console.print(Panel(Text(g.notice or "", style="dim"), title=title, title_align="left"))
    for flag in g.flags:
        console.print(f"[bold magenta]flag:[/] {escape(flag)}")
    table = Table(title="Rubric coverage", title_justify="left", show_lines=False)
    table.add_column("criterion", overflow="fold", ratio=3)
    table.add_column("status", no_wrap=True)
    table.add_column("evidence from your answer", overflow="fold", ratio=2)
    for c in g.criteria:
        table.add_row(
            escape(c.text),
            Text(STATUS_MARK[c.status], style=STATUS_STYLE[c.status]),
            Text(f"“{c.evidence}”" if c.evidence else "—", style="italic"),
        )
    console.print(table)
    _bullets("Strengths", g.strengths, "green")
    _bullets("Missing, most important first", g.gaps, "red")
    _bullets("Next steps", g.next_steps, "cyan")
    _bullets("Outline of a strong answer", g.outline, "blue", numbered=True)


def _bullets(title: str, items, colour: str, numbered: bool = False) -> None:
    if not items:
        return
    console.print(f"\n[bold {colour}]{title}[/]")
    for i, item in enumerate(items, 1):
        mark = f"{i}." if numbered else "•"
        console.print(f"  {mark} {escape(item)}", soft_wrap=True)


def attempts_table(attempts) -> None:
    table = Table(title=f"History ({len(attempts)} attempts)", title_justify="left")
    for column in ("id", "when", "question", "status", "grader", "score"):
        table.add_column(column)
    for a in attempts:
        score = f"{a.grade.score:.1f}" if a.grade else "—"
        status = a.status + (f" ({a.error})" if a.error and a.status != "graded" else "")
        table.add_row(
            str(a.id), a.created_at.strftime("%Y-%m-%d %H:%M"), a.question_id, status, a.grader, score
        )
    console.print(table)


def attempt(a, question=None) -> None:
    console.print(
        f"[bold]Attempt {a.id}[/] · {a.question_id} · {a.created_at:%Y-%m-%d %H:%M} · {a.status}"
        + (f" (follow-up to attempt {a.parent_id})" if a.parent_id else "")
    )
    if question is not None:
        question_panel(question)
    console.print(Panel(Text(a.answer), title="Your answer", title_align="left"))
    if a.grade:
        grade(a.grade)
    elif a.error:
        console.print(f"[red]Not graded yet:[/] {escape(a.error)}  (run `coach regrade {a.id}`)")


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
        table.add_row(row.question_id, row.kind, ", ".join(row.note_ids) or "—", str(row.key_points), style=style)
    console.print(table)
    console.print(f"{report.notes} notes, {report.questions} questions, {len(report.problems)} problems")
    for problem in report.problems:
        err_console.print(f"[red]problem:[/] {escape(problem)}", soft_wrap=True)


def eval_report(result) -> None:
    m = result.metrics
    table = Table(title=f"Agreement with human scores ({m['grader']} grader, {m['n']} rows)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("pearson", "spearman", "qwk", "rmse", "mae", "within_1", "wall_seconds", "rows_per_second"):
        value = m.get(key)
        table.add_row(key, "n/a" if value is None else f"{value:.3f}")
    console.print(table)
    if result.failed:
        notice(f"{result.failed} rows could not be graded and were left out")
