"""A study plan as files: Markdown to read, iCalendar (.ics) to put the days in a calendar."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coach.coaching.plan import (
    MOCK_MINUTES,
    NOTE_MINUTES,
    QUESTION_MINUTES,
    PlanDay,
    PlanItem,
    StudyPlan,
)
from coach.errors import CoachError


def _item_line(item: PlanItem) -> str:
    line = f"{item.title} ({item.minutes} min): {item.reason}"
    if item.kind == "mock":
        line += " [" + ", ".join(item.question_ids) + "]"
    if item.points:
        line += "; focus on: " + " | ".join(item.points)
    return line


def day_summary(plan_day: PlanDay) -> str:
    counts = defaultdict(int)
    for item in plan_day.items:
        counts[item.kind] += 1
    names = {"review": "re-attempt", "new": "new question", "note": "note", "mock": "mock round"}
    parts = [
        f"{counts[k]} {names[k]}{'s' if counts[k] > 1 else ''}"
        for k in ("review", "new", "note", "mock")
        if counts[k]
    ]
    return f"Interview prep: {', '.join(parts)} ({plan_day.minutes} min)"


def to_markdown(plan: StudyPlan) -> str:
    out = [
        f"# Study plan until the interview on {plan.interview_date.isoformat()}",
        "",
        (
            f"{plan.hours_per_day:g} hours a day, from {plan.today.isoformat()}; "
            f"{QUESTION_MINUTES} min per question, {NOTE_MINUTES} min per note, {MOCK_MINUTES} min for the mock round."
        ),
        "",
    ]
    if plan.narrative:
        out += [plan.narrative, ""]
    if plan.weak_topics:
        out += ["## Weakest topics", ""]
        out += [
            f"- {s.name}: average {s.average:.1f}/10 over {s.attempts} answers"
            for s in plan.weak_topics
        ]
        out.append("")
    for plan_day in plan.visible:
        out += [f"## {plan_day.day:%a %Y-%m-%d} ({plan_day.minutes} of {plan_day.budget} min)", ""]
        out += [f"- [ ] {_item_line(item)}" for item in plan_day.items] or ["- rest"]
        out.append("")
    if plan.hidden_days:
        out += [f"{plan.hidden_days} more days until the interview are not shown (--days).", ""]
    out += ["## Did not fit", ""]
    out += [f"- {_item_line(item)}" for item in plan.unfitted] or ["- nothing: everything fits"]
    out.append("")
    if plan.remaining_new:
        out += [f"{plan.remaining_new} questions you have never attempted are not in the plan.", ""]
    return "\n".join(out)


def _ics_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with CRLF and one space, never splitting a character."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    pieces, current, limit = [], b"", 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            pieces.append(current.decode("utf-8"))
            current, limit = b"", 74  # continuation lines start with a space
        current += encoded
    pieces.append(current.decode("utf-8"))
    return "\r\n ".join(pieces)


def to_ics(plan: StudyPlan, now: datetime | None = None) -> bytes:
    """An RFC 5545 calendar with one all-day event per shown day that has something planned.

    UIDs are stable for an (interview date, day) pair, so importing a re-planned file updates the
    events instead of duplicating them.
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//coach//interview study plan//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for plan_day in plan.visible:
        if not plan_day.items:
            continue
        seed = f"{plan.interview_date.isoformat()}/{plan_day.day.isoformat()}"
        uid = f"coach-{plan_day.day:%Y%m%d}-{hashlib.sha1(seed.encode()).hexdigest()[:12]}@coach.local"
        description = "\n".join(f"- {_item_line(item)}" for item in plan_day.items)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{plan_day.day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{plan_day.day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_escape(day_summary(plan_day))}",
            f"DESCRIPTION:{_ics_escape(description)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


EXPORT_SUFFIXES = (".md", ".ics")


def check_export(paths: list[Path] | None) -> list[Path]:
    """Refuse an export name the plan cannot be written as, before any work (or LLM call) is done."""
    for path in paths or []:
        if path.suffix.lower() not in EXPORT_SUFFIXES:
            raise CoachError(f"{path}: export to a .md or .ics file")
        if path.is_dir():
            raise CoachError(f"{path}: is a directory")
    return list(paths or [])


def export_plan(plan: StudyPlan, path: Path) -> Path:
    """Write the plan as Markdown (*.md) or an iCalendar file (*.ics)."""
    check_export([path])
    data = to_markdown(plan).encode("utf-8") if path.suffix.lower() == ".md" else to_ics(plan)
    try:
        path.write_bytes(data)
    except IsADirectoryError:
        raise CoachError(f"{path}: is a directory") from None
    except OSError as exc:
        raise CoachError(f"cannot write {path} ({exc.strerror})") from None
    return path
