"""Typer commands: parse -> one library call -> render. No logic lives here."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from coach.errors import CoachError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Practise machine-learning interview answers: graded feedback, probes and study plans.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
questions_app = typer.Typer(no_args_is_help=False, help="List and search the question bank.")
corpus_app = typer.Typer(no_args_is_help=True, help="Check the reference notes and question bank.")
app.add_typer(questions_app, name="questions")
app.add_typer(corpus_app, name="corpus")

GraderOpt = Annotated[
    str | None,
    typer.Option("--grader", help="offline or llm (default: llm when configured, else offline)"),
]

FallbackOpt = Annotated[
    str | None,
    typer.Option(
        "--fallback",
        help="offline: if the LLM grade fails, grade offline and say so; none: leave the answer pending "
        "(default: COACH_FALLBACK)",
    ),
]


def _guard(func):
    """Turn a CoachError into one line on stderr and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from coach.cli import render

        try:
            return func(*args, **kwargs)
        except CoachError as exc:
            render.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            render.error("interrupted; everything answered so far is saved")
            raise typer.Exit(130) from None

    return wrapper


def command(target=app, name: str | None = None):
    def decorate(func):
        return target.command(name=name)(_guard(func))

    return decorate


def _coach(fallback: str | None = None):
    from coach.app import Coach
    from coach.config import load_settings

    overrides = {"coach_fallback": _check_fallback(fallback)} if fallback else {}
    return Coach(load_settings(**overrides))


def _check_fallback(fallback: str | None) -> str | None:
    if fallback not in (None, "offline", "none"):
        raise CoachError(f"--fallback must be offline or none, not {fallback!r}")
    return fallback


def _check_grader(grader: str | None) -> str | None:
    if grader not in (None, "offline", "llm"):
        raise CoachError(f"--grader must be offline or llm, not {grader!r}")
    return grader


# --- configuration and corpus ------------------------------------------------------------------


@command()
def config():
    """Show the effective settings (secrets masked) and where each came from."""
    from coach.cli import render
    from coach.config import describe, load_settings

    render.config_table(describe(load_settings()))


@command()
def doctor(
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
):
    """Check the LLM endpoint: reachable, model listed, and which structured-output method works."""
    from coach.cli import render
    from coach.llm.doctor import run_doctor

    report = run_doctor()
    if json_out:
        render.print_json(render.doctor_dict(report))
    else:
        render.doctor_report(report)
    if not report.ok:
        raise typer.Exit(1)


@command()
def ingest(
    rebuild: Annotated[bool, typer.Option(help="Delete the embedded store and rebuild it")] = False,
):
    """Load questions and notes into the vector store (only new or changed ones are embedded)."""
    from coach.cli import render
    from coach.config import load_settings
    from coach.search.ingest import ingest as run_ingest

    settings = load_settings()
    with render.progress_bar("embedding") as progress:
        report = run_ingest(settings, rebuild=rebuild, progress=progress)
    render.ingest_report(report, settings.coach_chroma_url or str(settings.chroma_path))


@command(name="import")
def import_bank(
    file: Annotated[Path, typer.Argument(help="A question list in the seed's reStructuredText layout")],
    name: Annotated[str | None, typer.Option(help="Bank name (default: the file name)")] = None,
):
    """Add your own question bank (kept beside the shipped one, which is not touched)."""
    from coach.cli import render
    from coach.config import load_settings
    from coach.corpus.library import import_bank as run_import
    from coach.search.ingest import ingest as run_ingest

    settings = load_settings()
    bank, parsed = run_import(settings.coach_home, file, name)
    run_ingest(settings)
    render.info(f"Imported {len(parsed.questions)} questions as bank '{bank}' (ids start with '{bank}-').")


@questions_app.callback(invoke_without_command=True)
@_guard
def questions(
    ctx: typer.Context,
    round_: Annotated[str | None, typer.Option("--round", help="2, 3, 4 or additional")] = None,
    kind: Annotated[str | None, typer.Option(help="technical, system-design or behavioral")] = None,
    source: Annotated[str | None, typer.Option(help="reported, predicted, or an origin such as ChatGPT")] = None,
    topic: Annotated[str | None, typer.Option(help="A topic word, such as recsys or bias")] = None,
):
    """List questions, with filters."""
    if ctx.invoked_subcommand:
        return
    from coach.app import filter_questions
    from coach.cli import render

    coach = _coach()
    render.questions_table(filter_questions(coach.questions, round_, kind, source, topic, coach.notes))


@command(questions_app, name="search")
def questions_search(
    text: Annotated[str, typer.Argument(help="What the question is about")],
    n: Annotated[int, typer.Option("-n", min=1, max=50, help="How many")] = 5,
):
    """The questions nearest in meaning to TEXT, with similarity scores."""
    from coach.cli import render

    render.search_results(_coach().search(text, n))


@command(corpus_app, name="check")
def corpus_check():
    """Validate notes: front matter, sections, question ids, coverage, key-point sentences."""
    from coach.cli import render
    from coach.corpus.lint import check_corpus

    report = check_corpus(_coach().questions)
    render.corpus_report(report)
    if report.problems:
        raise typer.Exit(1)


@command()
def rubric(question_id: Annotated[str, typer.Argument(help="A question id, e.g. r2-position-bias")]):
    """Show the rubric a question is graded against."""
    from coach.cli import render

    coach = _coach()
    render.question_panel(coach.question(question_id))
    render.rubric(coach.rubric(question_id))


# --- answering and grading ---------------------------------------------------------------------


@command()
def grade(
    question_id: Annotated[str, typer.Argument(help="A question id")],
    answer_file: Annotated[str, typer.Option("--answer-file", "-f", help="File with the answer, or - for stdin")],
    grader: GraderOpt = None,
    fallback: FallbackOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the grade as JSON")] = False,
):
    """Grade an answer without interaction (the answer is saved to history first)."""
    from coach.app import read_answer_file
    from coach.cli import render

    coach = _coach(fallback)
    outcome = coach.answer(question_id, read_answer_file(answer_file), _check_grader(grader))
    if outcome.grade is None:
        raise CoachError(f"attempt {outcome.attempt_id} saved but not graded: {outcome.error}", exit_code=3)
    if json_out:
        render.print_json({"attempt_id": outcome.attempt_id, **outcome.grade.model_dump(mode="json")})
    else:
        render.grade(outcome.grade)
        render.info(f"[dim]Saved as attempt {outcome.attempt_id}.[/]")


@command()
def practice(
    round_: Annotated[str | None, typer.Option("--round", help="2, 3, 4 or additional")] = None,
    kind: Annotated[str | None, typer.Option(help="technical, system-design or behavioral")] = None,
    topic: Annotated[str | None, typer.Option(help="A topic word, such as recsys")] = None,
    question_id: Annotated[str | None, typer.Option("--id", help="Practise this question")] = None,
    grader: GraderOpt = None,
    fallback: FallbackOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answer in $EDITOR")] = False,
):
    """Answer questions one at a time and get graded feedback."""
    from coach.cli.interactive import run_practice

    run_practice(_coach(fallback), round_, kind, topic, question_id, _check_grader(grader), editor)


@command()
def regrade(
    attempt_id: Annotated[int | None, typer.Argument(help="An attempt id")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Grade every pending attempt")] = False,
    grader: GraderOpt = None,
    fallback: FallbackOpt = None,
):
    """Grade saved attempts again (pending ones, or one by id)."""
    from coach.cli import render

    coach = _coach(fallback)
    if pending:
        ids = [a.id for a in coach.history.pending()]
    elif attempt_id is not None:
        ids = [attempt_id]
    else:
        raise CoachError("give an attempt id or --pending")
    if not ids:
        render.info("No pending attempts.")
        return
    failed = 0
    for outcome in coach.regrade(ids, _check_grader(grader)):
        if outcome.grade:
            render.info(f"attempt {outcome.attempt_id}: {outcome.grade.score:.1f}/10 ({outcome.grade.grader})")
        else:
            failed += 1
            render.error(f"attempt {outcome.attempt_id} still pending: {outcome.error}")
    if failed:
        raise typer.Exit(3)


@command()
def history(
    question_id: Annotated[str | None, typer.Option("--question", help="Only this question")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first")] = 50,
    export: Annotated[
        Path | None, typer.Option(help="Write the attempts (of --question, if given) to FILE.jsonl")
    ] = None,
):
    """List your attempts, or export them."""
    from coach.cli import render

    coach = _coach()
    if export:
        count = coach.history.export_jsonl(export, question_id)
        render.info(f"Wrote {count} attempts to {export}.")
        return
    render.attempts_table(coach.history.list(question_id, limit))


@command()
def show(attempt_id: Annotated[int, typer.Argument(help="An attempt id (any answer of a thread)")]):
    """Show one attempt with its whole thread: the follow-up probes, their answers and grades."""
    from coach.cli import render
    from coach.coaching.probes import thread

    coach = _coach()
    entries = thread(coach, attempt_id)
    render.thread(entries, coach.question(entries[0].attempt.question_id))


@command()
def probe(
    attempt_id: Annotated[int, typer.Argument(help="The attempt to probe (any answer of its thread)")],
    count: Annotated[int, typer.Option("--count", "-n", help="How many follow-up questions, 1 to 3")] = 3,
    grader: GraderOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answers in $EDITOR")] = False,
):
    """Ask follow-up questions on an answer, as an interviewer would, and grade your answers."""
    from coach.cli.interactive import run_probes

    run_probes(_coach(), attempt_id, _check_grader(grader), count, editor)


@command()
def mock(
    round_: Annotated[str | None, typer.Option("--round", help="2, 3, 4 or additional")] = None,
    minutes: Annotated[int | None, typer.Option(help="Length of the round in minutes, 1 to 180 (default 45)")] = None,
    questions: Annotated[int | None, typer.Option(help="How many questions, 1 to 10 (default 4)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last unfinished round")] = False,
    export: Annotated[Path | None, typer.Option(help="Write the scorecard to FILE.md or FILE.html")] = None,
    grader: GraderOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answers in $EDITOR")] = False,
):
    """Run a timed mock round: questions with follow-up probes, then a scorecard against the round's bar."""
    from coach.cli.interactive import run_mock

    run_mock(_coach(), round_, minutes, questions, resume, _check_grader(grader), export, editor)


@command()
def forget(
    attempt_id: Annotated[int | None, typer.Argument(help="An attempt id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every attempt and all review and mock state")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
):
    """Delete one attempt, or everything the coach remembers about you."""
    from coach.cli import render

    coach = _coach()
    if all_:
        if not yes and not typer.confirm("Delete every attempt, review card and mock round?"):
            raise CoachError("nothing deleted")
        from coach.coaching.srs import clear_reviews

        deleted = coach.history.delete_all()
        clear_reviews(coach.history.db)
        render.info(f"Deleted {deleted} attempts and all review and mock-round state.")
    elif attempt_id is not None:
        coach.history.delete(attempt_id)
        render.info(f"Deleted attempt {attempt_id}.")
    else:
        raise CoachError("give an attempt id or --all")


@command()
def plan(
    interview_date: Annotated[
        str, typer.Option("--interview-date", help="The interview day, YYYY-MM-DD")
    ],
    hours_per_day: Annotated[
        float, typer.Option("--hours-per-day", help="Study time per day, in hours")
    ] = 2.0,
    days: Annotated[int | None, typer.Option("--days", help="Show only the next N days")] = None,
    export: Annotated[
        list[Path] | None,
        typer.Option("--export", help="Also write FILE.md or FILE.ics (repeatable)"),
    ] = None,
):
    """A day-by-day study plan until the interview: FSRS re-attempts, new questions, notes, a mock round."""
    from coach.cli import render
    from coach.coaching.plan import build_plan, check_export, export_plan, parse_date

    paths = check_export(export)
    coach = _coach()
    with render.status("Planning..."):
        study = build_plan(coach, parse_date(interview_date), hours_per_day, days)
    render.study_plan(study)
    for path in paths:
        export_plan(study, path)
        render.info(f"Wrote {path}.")


@command()
def progress(
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write a chart of score over time to FILE.png")
    ] = None,
):
    """Scores per topic and per round, recent trend, what is due today, and score over time."""
    from coach.cli import render
    from coach.coaching.progress import build_progress, write_png

    report = build_progress(_coach())
    render.progress_report(report)
    if png:
        write_png(report, png)
        render.info(f"Wrote {png}.")


@command()
def compare(
    first: Annotated[int, typer.Argument(help="Attempt A (usually the earlier one)")],
    second: Annotated[int, typer.Argument(help="Attempt B, at the same question")],
):
    """Compare two attempts at the same question: rubric points that flipped, score change, changed sentences."""
    from coach.cli import render
    from coach.coaching.compare import compare_attempts

    render.comparison(compare_attempts(_coach().history, first, second))


@command(name="eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="CSV: question,reference_answer,answer,score,max_score")],
    grader: GraderOpt = "offline",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object of metrics")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows")] = None,
    split: Annotated[str | None, typer.Option(help="Only rows whose `split` column equals this")] = None,
):
    """How far can you trust the grades? Agreement with human scores on a CSV."""
    from coach.cli import render
    from coach.coaching.evaluate import evaluate_file

    coach = _coach()
    with render.progress_bar("grading") as progress:
        result = evaluate_file(coach, file, _check_grader(grader) or "offline", limit, split, progress)
    if json_out:
        render.print_json(result.metrics)
    else:
        render.eval_report(result)


def main() -> None:
    app(prog_name="coach")
