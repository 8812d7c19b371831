"""The whole bank: the shipped questions plus the banks a user imported into COACH_HOME."""

from __future__ import annotations

import re
from pathlib import Path

from coach.corpus.bank import MARKDOWN_SUFFIXES, ParsedBank, load_bank_file, shipped_bank
from coach.errors import CoachError
from coach.models import Note, Question

BANK_SUFFIXES = (".rst", ".md")
BANK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}$")


def banks_dir(home: Path) -> Path:
    return home / "banks"


def imported_banks(home: Path) -> list[ParsedBank]:
    """Question banks the user added with `coach import`, kept under COACH_HOME/banks/."""
    banks = []
    directory = banks_dir(home)
    if directory.is_dir():
        for path in sorted(p for p in directory.iterdir() if p.suffix.lower() in BANK_SUFFIXES):
            banks.append(_prefixed(load_bank_file(path, bank=path.stem), path.stem))
    return banks


def _prefixed(parsed: ParsedBank, bank: str) -> ParsedBank:
    # Imported ids carry the bank name so they can never collide with the shipped bank's.
    for question in parsed.questions:
        question.id = f"{bank}-{question.id}"
        if question.follows:
            question.follows = f"{bank}-{question.follows}"
    return parsed


def all_questions(home: Path) -> list[Question]:
    questions = list(shipped_bank().questions)
    for bank in imported_banks(home):
        questions.extend(bank.questions)
    return questions


def all_tips(home: Path) -> list[Note]:
    tips = list(shipped_bank().tips)
    for bank in imported_banks(home):
        tips.extend(bank.tips)
    return tips


def import_bank(home: Path, source: Path, name: str | None = None) -> tuple[str, ParsedBank]:
    """Validate a bank file and copy it under COACH_HOME/banks/ (the shipped bank is untouched)."""
    name = (name or source.stem).lower()
    name = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    if not BANK_NAME_RE.match(name) or name == "seed":
        raise CoachError(
            f"bank name {name!r}: use 2-31 lowercase letters, digits or dashes (not 'seed')"
        )
    parsed = _prefixed(load_bank_file(source, bank=name), name)
    suffix = ".md" if source.suffix.lower() in MARKDOWN_SUFFIXES else ".rst"
    for old in banks_dir(home).glob(f"{name}.*"):
        if old.suffix in BANK_SUFFIXES and old.suffix != suffix:
            old.unlink()  # re-importing a bank in the other format replaces it
    target = banks_dir(home) / f"{name}{suffix}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    except OSError as exc:
        raise CoachError(f"cannot write {target} ({exc.strerror})") from None
    return name, parsed
