"""Reference notes: markdown with YAML front matter, key points tagged per question."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from coach.corpus.bank import corpus_dir
from coach.errors import CoachError
from coach.models import KeyPoint, Note, NoteProbe, WrongClaim

FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
HEADING_RE = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
BULLET_RE = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+(.*)$")


def bullets(markdown: str) -> list[str]:
    """Top-level list items of a markdown section, continuation lines joined."""
    items: list[str] = []
    for line in markdown.splitlines():
        match = BULLET_RE.match(line)
        if match and not line.startswith((" " * 4, "\t")):
            items.append(match.group(1).strip())
        elif items and line.strip() and line.startswith(" "):
            items[-1] += " " + line.strip()
    return items


TAGS_RE = re.compile(r"^\[([^\]]*)\]\s*")
NESTED_RE = re.compile(r"^ {2,3}[-*]\s+(.*)$")


def _tagged(text: str, where: str) -> tuple[str, list[str], str]:
    """Strip leading `[for: a, b]` / `[staff]` tags: (text, question ids, level)."""
    questions: list[str] = []
    level = "core"
    while match := TAGS_RE.match(text):
        for tag in match.group(1).split(";"):
            tag = tag.strip()
            if tag == "staff":
                level = "staff"
            elif tag.startswith("for:"):
                questions += [q.strip() for q in tag[4:].split(",") if q.strip()]
            elif tag:
                raise CoachError(f"{where}: unknown tag [{tag}] (use [for: ids] or [staff])")
        text = text[match.end() :]
    return text.strip(), questions, level


def nested_items(markdown: str) -> list[tuple[str, list[str]]]:
    """Top-level list items with their two-space-indented sub-items."""
    items: list[tuple[str, list[str]]] = []
    for line in markdown.splitlines():
        nested = NESTED_RE.match(line)
        if nested and items:
            items[-1][1].append(nested.group(1).strip())
            continue
        match = BULLET_RE.match(line)
        if match and not line.startswith((" ", "\t")):
            items.append((match.group(1).strip(), []))
        elif items and line.strip() and line.startswith(" "):
            if items[-1][1]:
                items[-1][1][-1] += " " + line.strip()
            else:
                items[-1] = (items[-1][0] + " " + line.strip(), items[-1][1])
    return items


def parse_key_points(markdown: str, where: str) -> list[KeyPoint]:
    points = []
    for text, subs in nested_items(markdown):
        text, questions, level = _tagged(text, where)
        point = KeyPoint(text=text, questions=questions, level=level)
        for sub in subs:
            label, _, rest = sub.partition(":")
            label = label.strip().lower()
            if label == "says":
                point.says.append(rest.strip())
            elif label == "wrong":
                claim, sep, correction = rest.partition("=>")
                if not sep:
                    raise CoachError(
                        f"{where}: a 'Wrong:' line needs ' => ' and a correction: {sub[:60]}"
                    )
                point.wrong.append(WrongClaim(claim=claim.strip(), correction=correction.strip()))
            else:
                raise CoachError(
                    f"{where}: key point sub-item must start 'Says:' or 'Wrong:': {sub[:60]}"
                )
        points.append(point)
    return points


def parse_probes(markdown: str, where: str) -> list[NoteProbe]:
    probes = []
    for text, subs in nested_items(markdown):
        text, questions, _ = _tagged(text, where)
        expects = []
        for sub in subs:
            label, _, rest = sub.partition(":")
            if label.strip().lower() != "expects":
                raise CoachError(f"{where}: probe sub-item must start 'Expects:': {sub[:60]}")
            expects.append(rest.strip())
        probes.append(NoteProbe(text=text, questions=questions, expects=expects))
    return probes


def parse_note(text: str, path: str = "<note>") -> Note:
    """A note is markdown with YAML front matter and `## Section` headings."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        raise CoachError(f"{path}: missing YAML front matter (--- ... ---)")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CoachError(f"{path}: bad front matter ({str(exc).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise CoachError(f"{path}: front matter must be a mapping")
    body = text[match.end() :]
    sections: dict[str, str] = {}
    parts = HEADING_RE.split(body)
    for heading, content in zip(parts[1::2], parts[2::2]):
        sections[heading.strip()] = content.strip()
    try:
        return Note(
            id=str(meta.get("id", "")),
            title=str(meta.get("title", "")),
            topics=[str(t) for t in meta.get("topics") or []],
            kind=meta.get("kind", "technical"),
            questions=[str(q) for q in meta.get("questions") or []],
            sections=sections,
            points=parse_key_points(sections.get("Key points", ""), path),
            probe_items=parse_probes(sections.get("Follow-up probes", ""), path),
            dimensions={
                str(k): [str(d) for d in v] for k, v in (meta.get("dimensions") or {}).items()
            },
            draft=bool(meta.get("draft", False)),
            path=path,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        first = str(exc).splitlines()
        raise CoachError(f"{path}: invalid front matter ({first[-1].strip() if first else exc})")


def user_notes_dir(home: Path) -> Path:
    """Where a user's own notes live (drafted with `coach notes draft`, or written by hand)."""
    return home / "notes"


def load_user_notes(home: Path) -> list[Note]:
    directory = user_notes_dir(home)
    return load_notes(directory) if directory.is_dir() else []


def load_notes(directory: Path | None = None) -> list[Note]:
    """All reference notes under corpus/notes/, sorted by id, each with its contrastive examples
    (corpus/examples/<id>.json) when the corpus has them."""
    directory = directory or corpus_dir() / "notes"
    notes = [
        parse_note(p.read_text(encoding="utf-8"), str(p.relative_to(directory.parent)))
        for p in sorted(directory.glob("*.md"))
    ]
    for note in notes:
        add_examples(note, examples_path(directory, note.id))
    return sorted(notes, key=lambda n: n.id)


def examples_path(notes_dir: Path, note_id: str) -> Path:
    """Where a note's contrastive examples live: corpus/examples/<note id>.json beside corpus/notes/."""
    return notes_dir.parent / "examples" / f"{note_id}.json"


def read_examples(path: Path) -> dict[str, dict[str, list]]:
    """A note's contrastive examples: key point text -> {"says": [str], "wrong": [WrongClaim]}.

    The file is {"note": id, "points": [{"point": <the key point's exact text>, "says": [correct
    phrasings], "wrong": [wrong claims: a string, or {"claim": ..., "correction": ...}]}]}; see
    corpus/examples/README.md for who wrote them. A wrong claim without a correction is corrected by
    the point itself."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(p["point"]).strip(): {
                "says": [str(t) for t in p.get("says", [])],
                "wrong": [
                    WrongClaim(claim=str(w["claim"]), correction=str(w.get("correction", "")))
                    if isinstance(w, dict)
                    else WrongClaim(claim=str(w), correction="")
                    for w in p.get("wrong", [])
                ],
            }
            for p in data["points"]
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CoachError(f"{path}: unreadable examples ({type(exc).__name__}: {exc})") from None


def add_examples(note: Note, path: Path) -> None:
    """Append a note's contrastive examples to its key points: more ways a candidate says a point,
    matched like the note's own Says lines, and more wrong claims (with their correction, or none:
    then the point itself says what is true).
    Examples for a point the note no longer has are ignored (`coach corpus check` reports them)."""
    if not path.is_file():
        return
    examples = read_examples(path)
    for point in note.points:
        found = examples.get(point.text.strip())
        if found:
            point.says += [t for t in found["says"] if t not in point.says]
            known = {w.claim for w in point.wrong}
            point.wrong += [w for w in found["wrong"] if w.claim not in known]
