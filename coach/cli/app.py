"""Typer commands: parse -> one library call -> render. No logic lives here.

The library is imported inside each command, not at the top: `coach --help` must cost about what
importing Typer costs (the library pulls in numpy, pydantic models and the grading code).
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from coach.errors import CoachError, ExitCode
from coach.textfile import read_text

MAX_ANSWER_BYTES = 200_000  # the same limit the library checks


def read_answer_file(path: str) -> str:
    """An answer from a file path, or from stdin for '-', as UTF-8 text (bounded: see coach.textfile)."""
    return read_text(
        path, MAX_ANSWER_BYTES, "an answer file", sys.stdin.buffer if path == "-" else None
    )


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
mock_app = typer.Typer(no_args_is_help=False, help="Timed mock rounds with a scorecard.")
app.add_typer(mock_app, name="mock")


class Grader(str, Enum):
    offline = "offline"
    llm = "llm"


class Fallback(str, Enum):
    offline = "offline"
    none = "none"


class Round(str, Enum):
    r2 = "2"
    r3 = "3"
    r4 = "4"
    additional = "additional"


class Kind(str, Enum):
    technical = "technical"
    system_design = "system-design"
    behavioral = "behavioral"


def _value(choice: Enum | None) -> str | None:
    return choice.value if choice is not None else None


GraderOpt = Annotated[
    Grader | None,
    typer.Option("--grader", help="offline or llm (default: llm when configured, else offline)"),
]
FallbackOpt = Annotated[
    Fallback | None,
    typer.Option(
        "--fallback",
        help="offline: if the LLM grade fails, grade offline and say so; none: leave the answer pending "
        "(default: COACH_FALLBACK)",
    ),
]
RoundOpt = Annotated[Round | None, typer.Option("--round", help="Interview round")]
KindOpt = Annotated[Kind | None, typer.Option("--kind", help="Kind of question")]


def _guard(func):
    """Turn a CoachError into one line on stderr and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from coach.cli import render

        try:
            return func(*args, **kwargs)
        except CoachError as exc:
            render.error(str(exc))
            raise typer.Exit(ExitCode.ERROR) from None
        except KeyboardInterrupt:
            render.error("interrupted; everything answered so far is saved")
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    return wrapper


def command(target=app, name: str | None = None):
    def decorate(func):
        return target.command(name=name)(_guard(func))

    return decorate


def _coach(fallback: Fallback | None = None, prepare: bool = False):
    """The library facade; with `prepare`, the history is opened and a new home's store filled first."""
    from coach.app import Coach
    from coach.config import load_settings

    overrides = {"coach_fallback": fallback.value} if fallback else {}
    coach = Coach(load_settings(**overrides))
    if prepare:
        coach.storage  # noqa: B018 - a read-only or damaged COACH_HOME is reported before the store
        _prepare_store(coach)
    return coach


def _prepare_store(coach) -> None:
    """Fill an empty store, saying so (a new COACH_HOME), instead of a silent pause."""
    from coach.cli import render

    if not coach.store_ready():
        render.progress_note(
            "Preparing the question and notes store (first run in this COACH_HOME)..."
        )
        with render.progress_bar("embedding") as progress:
            coach.ensure_ingested(progress)


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


@app.command(
    name="import",
    epilog="A markdown bank (FILE.md):\n\n\b\n# My ML loop\n## Round 2\n- What is the bias-variance trade-off?\n"
    "  kind: technical\n  reference: Bias is error from wrong assumptions; variance is sensitivity...\n"
    "- Tell me about a time you disagreed with your manager.\n\n"
    "A question is graded on the notes of a seed question that asks the same thing, else on its "
    "reference answer; with neither it cannot be graded.",
)
@_guard
def import_bank(
    file: Annotated[
        Path,
        typer.Argument(
            help="A question list: markdown (.md) or the seed's reStructuredText layout"
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Bank name (default: the file name)")] = None,
):
    """Add your own question bank (kept beside the shipped one, which is not touched)."""
    from coach.cli import render
    from coach.corpus.library import import_bank as run_import
    from coach.search.ingest import ingest as run_ingest

    coach = _coach()
    bank, parsed = run_import(coach.settings.coach_home, file, name)
    run_ingest(coach.settings, coach.store)
    render.info(
        f"Imported {len(parsed.questions)} questions as bank '{bank}' (ids start with '{bank}-')."
    )
    render.rubric_sources([(q, coach.rubric_source(q.id)) for q in parsed.questions])


@questions_app.callback(invoke_without_command=True)
@_guard
def questions(
    ctx: typer.Context,
    round_: RoundOpt = None,
    kind: KindOpt = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="reported, predicted, an origin such as ChatGPT, or an imported bank's name"
        ),
    ] = None,
    topic: Annotated[str | None, typer.Option(help="A topic word, such as recsys or bias")] = None,
):
    """List questions, with filters."""
    if ctx.invoked_subcommand:
        return
    from coach.app import filter_questions
    from coach.cli import render

    coach = _coach()
    render.questions_table(
        filter_questions(coach.questions, _value(round_), _value(kind), source, topic, coach.notes)
    )


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
    from coach.corpus.notes import user_notes_dir

    coach = _coach()
    report = check_corpus(coach.questions, user_dir=user_notes_dir(coach.settings.coach_home))
    for q in coach.questions:
        if not coach.gradable(q.id):
            report.problems.append(
                f"question {q.id} has no key points: add a reference answer in its bank or `coach notes draft {q.id}`"
            )
    render.corpus_report(report)
    if report.problems:
        raise typer.Exit(1)


notes_app = typer.Typer(no_args_is_help=True, help="Your own reference notes.")
app.add_typer(notes_app, name="notes")


@command(notes_app, name="draft")
def notes_draft(
    question_id: Annotated[
        str, typer.Argument(help="A question with no note, e.g. one you imported")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier draft")] = False,
):
    """With an LLM configured: draft a reference note for a question into COACH_HOME/notes (review it)."""
    from coach.cli import render
    from coach.coaching.drafting import draft_note
    from coach.search.ingest import ingest as run_ingest

    coach = _coach()
    if not coach.settings.llm_configured:
        raise CoachError(
            "drafting a note needs an LLM: set OPENAI_API_KEY or OPENAI_BASE_URL (see `coach doctor`)"
        )
    with render.status("Drafting the note..."):
        path, note = draft_note(coach.settings, coach.question(question_id), force)
    run_ingest(coach.settings, coach.store)
    render.info(
        f"Wrote a DRAFT note with {len(note.points_for(question_id))} key points to {path}. "
        "Review and edit it before trusting the grades it gives; `coach corpus check` lints it, "
        f"`coach rubric {question_id}` shows the rubric it makes."
    )


@command()
def rubric(
    question_id: Annotated[str, typer.Argument(help="A question id, e.g. r2-position-bias")],
):
    """Show the rubric a question is graded against."""
    from coach.cli import render

    coach = _coach()
    render.question_panel(coach.question(question_id))
    render.rubric(coach.rubric(question_id))


# --- answering and grading ---------------------------------------------------------------------


ReviewOpt = Annotated[
    bool,
    typer.Option("--review", help="Open the transcript in $EDITOR to correct it before grading"),
]
KeepAudioOpt = Annotated[
    bool,
    typer.Option(
        "--keep-audio", help="Keep each recording as COACH_HOME/recordings/attempt-ID.wav"
    ),
]


def _check_voice_ready() -> None:
    """Before anything starts (a new home's store included): the voice extra and PortAudio are there."""
    from coach.cli.speaking import Speaker

    Speaker.check_ready()


def _speaker(coach, review: bool = False, keep_audio: bool = False):
    """The terminal recorder for --voice."""
    from coach.cli.speaking import Speaker

    return Speaker(coach, review=review, keep_audio=keep_audio)


@command()
def grade(
    question_id: Annotated[str, typer.Argument(help="A question id")],
    answer_file: Annotated[
        str | None, typer.Option("--answer-file", "-f", help="File with the answer, or - for stdin")
    ] = None,
    audio: Annotated[
        Path | None,
        typer.Option(
            "--audio",
            help="A recording of your spoken answer (wav, mp3, m4a, webm): transcribed offline",
        ),
    ] = None,
    review: ReviewOpt = False,
    grader: GraderOpt = None,
    fallback: FallbackOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the grade as JSON")] = False,
    details: Annotated[
        bool, typer.Option("--details", help="The whole rubric table, every gap and an outline")
    ] = False,
):
    """Grade an answer without interaction (the answer, or a recording's transcript, is saved first)."""
    from coach.cli import render

    if (answer_file is None) == (audio is None):
        raise CoachError(
            "give the answer as --answer-file FILE (or - for stdin) or as --audio RECORDING"
        )
    if review and audio is None:
        raise CoachError("--review corrects a recording's transcript: use it with --audio")
    coach = _coach(fallback)
    if audio is not None:
        from coach.cli.speaking import Speaker

        Speaker.check_ready(recording=False)
        answer = Speaker(coach, review=review).transcribe_file(question_id, audio)
    else:
        answer = read_answer_file(answer_file)
    attempt_id = coach.save_answer(question_id, answer)
    # No store here: a question served by notes is graded without it (chromadb's import alone is about
    # as long as the grade), and one that needs it opens it inside grading, where a failure leaves the
    # saved answer pending with the reason.
    outcome = coach.grade_attempt(attempt_id, _value(grader))
    if outcome.grade is None:
        render.error(f"attempt {outcome.attempt_id} saved but not graded: {outcome.error}")
        raise typer.Exit(ExitCode.PENDING)
    delivery = getattr(answer, "delivery", None)
    if json_out:
        extra = {"transcript": answer.text, "delivery": delivery} if delivery else {}
        render.print_json(
            {"attempt_id": outcome.attempt_id, **outcome.grade.model_dump(mode="json"), **extra}
        )
    else:
        render.grade(outcome.grade, details=details)
        if delivery:
            render.delivery(delivery)
        render.info(f"[dim]Saved as attempt {outcome.attempt_id}.[/]")


@command()
def practice(
    round_: RoundOpt = None,
    kind: KindOpt = None,
    topic: Annotated[str | None, typer.Option(help="A topic word, such as recsys")] = None,
    question_id: Annotated[str | None, typer.Option("--id", help="Practise this question")] = None,
    grader: GraderOpt = None,
    fallback: FallbackOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answer in $EDITOR")] = False,
    voice: Annotated[
        bool,
        typer.Option(
            "--voice",
            help="Speak your answers: recorded, transcribed offline, graded, with delivery feedback",
        ),
    ] = False,
    review: ReviewOpt = False,
    keep_audio: KeepAudioOpt = False,
):
    """Answer questions one at a time and get graded feedback."""
    from coach.cli.interactive import run_practice

    _check_voice_options(voice, editor, review, keep_audio)
    if voice:
        _check_voice_ready()
    coach = _coach(fallback, prepare=True)
    speaker = _speaker(coach, review, keep_audio) if voice else None
    run_practice(
        coach, _value(round_), _value(kind), topic, question_id, _value(grader), editor, speaker
    )


def _check_voice_options(voice: bool, editor: bool, review: bool, keep_audio: bool) -> None:
    if voice and editor:
        raise CoachError("choose --voice or --editor, not both")
    if (review or keep_audio) and not voice:
        raise CoachError("--review and --keep-audio go with --voice")


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
    for outcome in coach.regrade(ids, _value(grader)):
        if outcome.grade:
            render.info(
                f"attempt {outcome.attempt_id}: {outcome.grade.score:.1f}/10 ({outcome.grade.grader})"
            )
        else:
            failed += 1
            render.error(f"attempt {outcome.attempt_id} still pending: {outcome.error}")
    if failed:
        raise typer.Exit(ExitCode.PENDING)


@command()
def history(
    question_id: Annotated[
        str | None, typer.Option("--question", help="Only this question")
    ] = None,
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
    attempt_id: Annotated[
        int, typer.Argument(help="The attempt to probe (any answer of its thread)")
    ],
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=3, help="How many follow-up questions")
    ] = 3,
    grader: GraderOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answers in $EDITOR")] = False,
):
    """Ask follow-up questions on an answer, as an interviewer would, and grade your answers."""
    from coach.cli.interactive import run_probes

    run_probes(_coach(), attempt_id, _value(grader), count, editor)


@mock_app.callback(invoke_without_command=True)
@_guard
def mock(
    ctx: typer.Context,
    round_: RoundOpt = None,
    minutes: Annotated[
        int | None, typer.Option(min=1, max=180, help="Length of the round in minutes (default 45)")
    ] = None,
    questions: Annotated[
        int | None, typer.Option(min=1, max=10, help="How many questions (default 4)")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last unfinished round")
    ] = False,
    export: Annotated[
        Path | None, typer.Option(help="Write the scorecard to FILE.md or FILE.html")
    ] = None,
    grader: GraderOpt = None,
    editor: Annotated[bool, typer.Option(help="Write the answers in $EDITOR")] = False,
    voice: Annotated[
        bool, typer.Option("--voice", help="Speak your answers (recorded and transcribed offline)")
    ] = False,
    review: ReviewOpt = False,
    keep_audio: KeepAudioOpt = False,
):
    """Run a timed mock round: questions with follow-up probes, then a scorecard against the round's bar."""
    from coach.cli.interactive import run_mock

    if ctx.invoked_subcommand:
        return
    if resume and (round_ is not None or minutes is not None or questions is not None):
        raise CoachError(
            "--resume continues the last round as it was; leave out --round, --minutes and --questions"
        )
    if not resume and round_ is None:
        raise CoachError("give --round (2, 3, 4 or additional), or --resume")
    _check_voice_options(voice, editor, review, keep_audio)
    if voice:
        _check_voice_ready()
    coach = _coach(prepare=True)
    speaker = _speaker(coach, review, keep_audio) if voice else None
    run_mock(
        coach, _value(round_), minutes, questions, resume, _value(grader), export, editor, speaker
    )


@command(mock_app, name="show")
def mock_show(
    round_id: Annotated[
        int | None, typer.Argument(help="A finished round's number (default: the latest)")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Also write the scorecard to FILE.md or FILE.html")
    ] = None,
):
    """Show (or export) the scorecard of a finished mock round; lists the finished rounds."""
    from coach.cli import render
    from coach.coaching.mock import finished_round, scorecard
    from coach.export.scorecard import report_format, write_report

    if export is not None:
        report_format(export)
    coach = _coach()
    session, finished = finished_round(coach, round_id)
    render.finished_rounds(finished, session.id)
    card = scorecard(coach, session.id)
    render.scorecard(card)
    if export is not None:
        render.info(f"Wrote the scorecard to {write_report(card, export)}.")


@command()
def forget(
    attempt_id: Annotated[int | None, typer.Argument(help="An attempt id")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Delete every attempt and all review and mock state")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
):
    """Delete one attempt, or everything the coach remembers about you."""
    from coach.cli import render

    coach = _coach()
    if all_:
        if not yes and not typer.confirm("Delete every attempt, review card and mock round?"):
            raise CoachError("nothing deleted")
        deleted = coach.history.delete_all()
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
        float,
        typer.Option("--hours-per-day", min=0.01, max=16.0, help="Study time per day, in hours"),
    ] = 2.0,
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Show only the next N days")
    ] = None,
    export: Annotated[
        list[Path] | None,
        typer.Option("--export", help="Also write FILE.md or FILE.ics (repeatable)"),
    ] = None,
):
    """A day-by-day study plan until the interview: FSRS re-attempts, new questions, notes, a mock round."""
    from coach.cli import render
    from coach.coaching.plan import build_plan, parse_date
    from coach.export.plan import check_export, export_plan

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
    from coach.coaching.progress import build_progress
    from coach.export.chart import write_png

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
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: question,reference_answer,answer,score,max_score; optional question_id (a bank id: the row is graded against that question's rubric), label, split"
        ),
    ],
    grader: Annotated[
        Grader, typer.Option("--grader", help="Which grader to measure")
    ] = Grader.offline,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of metrics")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows")] = None,
    split: Annotated[
        str | None, typer.Option(help="Only rows whose `split` column equals this")
    ] = None,
):
    """How far can you trust the grades? Agreement with human scores on a CSV."""
    from coach.cli import render
    from coach.coaching.evaluate import evaluate_file

    coach = _coach()
    with render.progress_bar("grading") as progress:
        result = evaluate_file(coach, file, grader.value, limit, split, progress)
    if json_out:
        render.print_json(result.metrics)
    else:
        render.eval_report(result)


def main() -> None:
    app(prog_name="coach")
