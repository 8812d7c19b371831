"""`coach corpus check`: the lint that keeps reference notes usable as rubrics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from coach.corpus.bank import corpus_dir
from coach.corpus.dimensions import DIMENSION_TEXT
from coach.corpus.notes import examples_path, parse_note, read_examples
from coach.errors import CoachError
from coach.models import Question

REQUIRED_SECTIONS = [
    "Questions",
    "Key points",
    "Common mistakes",
    "Follow-up probes",
    "Strong answer outline",
    "Levels",
    "Sources",
]
DESIGN_SUBSECTIONS = ["Requirements", "Data", "Model", "Serving", "Evaluation", "Monitoring"]
MIN_KEY_POINTS = 4  # core points per question
MAX_EXPECTS = 3  # expected points per follow-up probe
POINT_WORDS = (8, 50)
# A full stop followed by a capital letter inside a point means two sentences.
TWO_SENTENCES = re.compile(r"[.!?]\s+[A-Z]")


@dataclass
class CoverageRow:
    question_id: str
    kind: str
    note_ids: list[str]
    key_points: int


@dataclass
class CorpusReport:
    notes: int = 0
    questions: int = 0
    coverage: list[CoverageRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_corpus(
    questions: list[Question], notes_dir: Path | None = None, user_dir: Path | None = None
) -> CorpusReport:
    """Lint the shipped notes and, when given, the user's own notes folder (drafts included)."""
    notes_dir = notes_dir or corpus_dir() / "notes"
    report = CorpusReport(questions=len(questions))
    ids = {q.id for q in questions}
    notes = []
    paths = sorted(notes_dir.glob("*.md"))
    if user_dir is not None and user_dir.is_dir():
        paths += sorted(user_dir.glob("*.md"))
    for path in paths:
        try:
            note = parse_note(path.read_text(encoding="utf-8"), path.name)
        except CoachError as exc:
            report.problems.append(str(exc))
            continue
        notes.append(note)
        where = path.name
        if note.id != path.stem:
            report.problems.append(f"{where}: id {note.id!r} differs from the file name")
        if not note.title:
            report.problems.append(f"{where}: missing title")
        if not note.topics:
            report.problems.append(f"{where}: no topics")
        for section in REQUIRED_SECTIONS:
            if not note.sections.get(section, "").strip():
                report.problems.append(f"{where}: missing section '{section}'")
        if note.kind == "system-design":
            walkthrough = note.sections.get("Design walkthrough", "")
            for sub in DESIGN_SUBSECTIONS:
                if f"### {sub}" not in walkthrough:
                    report.problems.append(f"{where}: design walkthrough lacks '### {sub}'")
        for qid in note.questions:
            if qid not in ids:
                report.problems.append(f"{where}: unknown question id {qid!r}")
        if len(note.key_points) < MIN_KEY_POINTS:
            report.problems.append(
                f"{where}: {len(note.key_points)} key points; at least {MIN_KEY_POINTS}"
            )
        for i, point in enumerate(note.points, 1):
            words = len(point.text.split())
            if not POINT_WORDS[0] <= words <= POINT_WORDS[1]:
                report.problems.append(
                    f"{where}: key point {i} has {words} words ({POINT_WORDS[0]}-{POINT_WORDS[1]})"
                )
            if TWO_SENTENCES.search(point.text.rstrip(".")) or not point.text.endswith("."):
                report.problems.append(
                    f"{where}: key point {i} is not one sentence ending with a period"
                )
            for qid in point.questions:
                if qid not in note.questions:
                    report.problems.append(
                        f"{where}: key point {i} is tagged for {qid}, which the note does not serve"
                    )
        for i, probe in enumerate(note.probe_items, 1):
            if not 1 <= len(probe.expects) <= MAX_EXPECTS:
                report.problems.append(
                    f"{where}: probe {i} has {len(probe.expects)} expected points (1-{MAX_EXPECTS})"
                )
        examples = examples_path(notes_dir, note.id)
        if path.parent == notes_dir and examples.is_file():
            try:
                texts = {p.text.strip() for p in note.points}
                for point in read_examples(examples):
                    if point not in texts:
                        report.problems.append(
                            f"examples/{examples.name}: no key point reads {point[:60]!r}"
                        )
            except CoachError as exc:
                report.problems.append(str(exc))
        for qid, keys in note.dimensions.items():
            unknown = [k for k in keys if k not in DIMENSION_TEXT]
            if qid not in note.questions or unknown:
                report.problems.append(
                    f"{where}: dimensions for {qid}: unknown question or keys {unknown}"
                )
    report.notes = len(notes)
    for q in questions:
        serving = [n for n in notes if q.id in n.questions]
        core = sum(1 for n in serving for p in n.points_for(q.id) if p.level == "core")
        row = CoverageRow(
            q.id, q.kind, [n.id for n in serving], sum(len(n.points_for(q.id)) for n in serving)
        )
        report.coverage.append(row)
        if q.bank == "seed" and not serving:
            report.problems.append(f"question {q.id} is not served by any note")
        elif q.bank == "seed" and core < MIN_KEY_POINTS:
            report.problems.append(
                f"question {q.id} has only {core} core key points (at least {MIN_KEY_POINTS})"
            )
    return report
