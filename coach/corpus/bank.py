"""Question banks: the seed's reStructuredText parsed into questions (docutils)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from coach.errors import CoachError
from coach.models import Kind, Note, Question
from coach.textfile import read_text

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the coach package
MAX_BANK_BYTES = 5_000_000


def data_root() -> Path:
    """Where prompts/ and corpus/ live: inside the wheel, or at the top of a source checkout."""
    bundled = PACKAGE_DIR / "_data"
    if (bundled / "corpus").is_dir():
        return bundled
    return PACKAGE_DIR.parent


def corpus_dir() -> Path:
    return data_root() / "corpus"


# --- question bank -------------------------------------------------------------------------

ROUND_RE = re.compile(r"\bround\s*(\d+)", re.IGNORECASE)
LABEL_RE = re.compile(r"^([A-Z][\w&/\- ]{2,60}?):\s+(.+)$", re.DOTALL)
NUMBERING_RE = re.compile(r"^\s*\d+[.)]\s*")

BEHAVIORAL_CATEGORY = re.compile(
    r"leadership|mentor|culture|collaboration|team|failure|hiring|cross-functional|vision",
    re.IGNORECASE,
)
BEHAVIORAL_TEXT = re.compile(
    r"^(tell me about|describe a (time|situation)|give an example|can you (share|describe)|"
    r"how do you (mentor|handle|align|ensure alignment|stay)|what motivates|how would you foster|"
    r"if you were hiring|how would you manage conflicting|how would you prioriti[sz]e|"
    r"what is your vision|how would you balance innovation|coming from|"
    r"how do you ensure that research)",
    re.IGNORECASE,
)
DESIGN_TEXT = re.compile(
    r"^design\b|\bdesign an? (large-scale |real-time )?(system|pipeline|monitoring)|"
    r"\bdesign a pipeline|what architecture would you propose|\broadmap\b|\bhow would you scale\b|"
    r"\bdesign an ml-based recommendation\b|\bdesign a recommendation system\b|"
    r"\bdesign a multi-modal\b|\bdesign a generative ai system\b|\bdesign an ai system\b|"
    r"\bdesign an ml-based solution\b|\bprivacy and security\b",
    re.IGNORECASE,
)

STOPWORDS = set(
    """
a an the and or of for to in on with your you how would what do does is are be it this that can
could should will as at by from if into its not wasn't was were when which who why describe
explain walk me through tell about give example share time there their them they approach ensure
make sure our like such e g eg meesho meesho's platform using use used exactly detail key some
other one respectively versus vs wasnt issue think
""".split()
)


def classify(text: str, category: str) -> Kind:
    """technical, system-design or behavioral, from the category heading and the wording."""
    if BEHAVIORAL_TEXT.search(text.strip()) or BEHAVIORAL_CATEGORY.search(category):
        # "How would you design a generative AI system..." under a leadership heading is
        # still a design question.
        if DESIGN_TEXT.search(text) and not BEHAVIORAL_TEXT.search(text.strip()):
            return "system-design"
        return "behavioral"
    if DESIGN_TEXT.search(text):
        return "system-design"
    return "technical"


def slugify(words: str, limit: int = 5) -> str:
    tokens = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", words.lower().replace("-", " "))
    kept: list[str] = []
    for token in tokens:
        token = token.replace("'", "")
        if token in STOPWORDS or token in kept:
            continue
        kept.append(token)
        if len(kept) == limit:
            break
    return "-".join(kept) or "question"


@dataclass
class _Context:
    origin: str = ""
    round: str = ""
    category: str = ""
    reported: bool = False


@dataclass
class ParsedBank:
    questions: list[Question] = field(default_factory=list)
    tips: list[Note] = field(default_factory=list)


def _round_of(title: str) -> str:
    match = ROUND_RE.search(title)
    if match:
        return match.group(1)
    if "additional question" in title.lower() or title.lower().startswith("additional"):
        return "additional"
    return ""


def _clean_title(title: str) -> str:
    return NUMBERING_RE.sub("", title).strip().rstrip(":").strip()


def _is_tips(title: str) -> bool:
    return "tip" in title.lower()


def parse_bank(text: str, bank: str = "seed", name: str = "<bank>") -> ParsedBank:
    """Parse a question bank in the seed's reStructuredText layout.

    The top title names the company. Lists directly under it are questions reported from the
    real loop, grouped by "Round N" items; each sub-section under it is a source of predicted
    questions, with "Round N" sections and category sub-sections. Sections whose title mentions
    tips become notes.
    """
    from docutils import nodes
    from docutils.core import publish_doctree
    from docutils.utils import SystemMessage

    try:
        doctree = publish_doctree(
            text,
            source_path=name,
            settings_overrides={
                "doctitle_xform": False,
                "report_level": 5,
                "halt_level": 5,
                "file_insertion_enabled": False,
                "raw_enabled": False,
                "warning_stream": False,
            },
        )
    except (SystemMessage, Exception) as exc:  # noqa: BLE001 (docutils raises a variety on garbage)
        raise CoachError(f"{name}: not valid reStructuredText ({type(exc).__name__})") from None

    result = ParsedBank()
    seen_ids: set[str] = set()
    first_in_round: dict[tuple[str, str], str] = {}

    def add_question(raw: str, ctx: _Context) -> None:
        raw = " ".join(raw.split())
        if not raw or not ctx.round:
            return
        category = ctx.category
        text = raw
        label = LABEL_RE.match(raw)
        if label and len(label.group(1).split()) <= 8:
            category, text = label.group(1).strip(), label.group(2).strip()
            slug_source = category
        else:
            slug_source = text
        prefix = "add" if ctx.round == "additional" else f"r{ctx.round}"
        base = f"{prefix}-{slugify(slug_source)}"
        qid, n = base, 2
        while qid in seen_ids:
            qid, n = f"{base}-{n}", n + 1
        seen_ids.add(qid)
        follows = None
        key = (ctx.origin, ctx.round)
        if (
            ctx.reported
            and key in first_in_round
            and re.search(r"\b(this|still|your architecture|it work)\b", text, re.IGNORECASE)
        ):
            follows = first_in_round[key]
        first_in_round.setdefault(key, qid)
        result.questions.append(
            Question(
                id=qid,
                text=text,
                round=ctx.round,
                source="reported" if ctx.reported else "predicted",
                origin=ctx.origin,
                category=category or "General",
                kind=classify(text, category),
                follows=follows,
                bank=bank,
            )
        )

    def first_paragraph(item) -> str:
        for child in item.children:
            if isinstance(child, nodes.paragraph):
                return child.astext()
        return ""

    def nested_lists(item):
        for child in item.findall(include_self=False):
            if isinstance(child, (nodes.bullet_list, nodes.enumerated_list)):
                yield child

    def walk_list(lst, ctx: _Context) -> None:
        for item in lst.children:
            if not isinstance(item, nodes.list_item):
                continue
            head = first_paragraph(item)
            inner = [c for c in nested_lists(item) if c.parent is not lst]
            direct_inner = [
                c for c in inner if not any(p in inner for p in _ancestors(c, stop=item))
            ]
            if direct_inner:
                sub = _Context(ctx.origin, _round_of(head) or ctx.round, ctx.category, ctx.reported)
                if _round_of(head):
                    sub.category = _clean_title(ROUND_RE.split(head, maxsplit=1)[-1].lstrip(": "))
                    sub.category = re.sub(r"^\d+\s*:?\s*", "", sub.category) or ctx.category
                for inner_list in direct_inner:
                    walk_list(inner_list, sub)
            else:
                add_question(head, ctx)

    def walk(node, ctx: _Context, depth: int) -> None:
        for child in node.children:
            if isinstance(child, nodes.section):
                title = child.next_node(nodes.title).astext()
                if _is_tips(title):
                    result.tips.append(_tips_note(title, child.astext(), ctx.origin, bank))
                    continue
                sub = _Context(ctx.origin, ctx.round, ctx.category, ctx.reported)
                rnd = _round_of(title)
                if depth == 0:
                    sub = _Context(origin=_clean_title(title), reported=False)
                elif rnd:
                    sub.round = rnd
                    sub.category = _clean_title(ROUND_RE.sub("", title, count=1).lstrip(" :"))
                    sub.category = re.sub(r"^\d+\s*:?\s*", "", sub.category)
                    if rnd == "additional":
                        sub.category = ""
                elif "potential question" not in title.lower():
                    sub.category = _clean_title(title)
                walk(child, sub, depth + 1)
            elif isinstance(child, (nodes.bullet_list, nodes.enumerated_list)):
                walk_list(child, ctx)
            elif isinstance(child, nodes.block_quote):
                walk(child, ctx, depth)

    top_sections = [c for c in doctree.children if isinstance(c, nodes.section)]
    if not top_sections:
        raise CoachError(
            f"{name}: no titled section found (the seed's reStructuredText layout); or {MARKDOWN_HINT}"
        )
    for top in top_sections:
        company = _clean_title(top.next_node(nodes.title).astext())
        walk(top, _Context(origin=company, reported=True), depth=0)
    if not result.questions:
        raise CoachError(
            f"{name}: no questions found in the seed's reStructuredText layout; or {MARKDOWN_HINT}"
        )
    return result


def _ancestors(node, stop):
    parent = node.parent
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parent


def _tips_note(title: str, body: str, origin: str, bank: str) -> Note:
    lines = [line.strip() for line in body.splitlines()[1:] if line.strip()]
    tips = "\n".join(f"- {line}" for line in lines)
    slug = slugify(f"{origin} {title}", limit=6)
    return Note(
        id=f"tips-{slug}",
        title=f"{_clean_title(title)} ({origin})",
        topics=["preparation"],
        kind="general",
        sections={"Tips": tips},
        path=f"{bank}:{title}",
    )


MARKDOWN_EXAMPLE = """# My ML loop
## Round 2
- What is the bias-variance trade-off?
  kind: technical
  reference: Bias is error from wrong assumptions; variance is sensitivity to the training sample...
- Tell me about a time you disagreed with your manager."""
MARKDOWN_HINT = (
    "write a .md file like '## Round 2' then '- What is the bias-variance trade-off?' (optional indented "
    "'kind: technical' and 'reference: ...' lines; `coach import --help` shows a full example)"
)
MARKDOWN_SUFFIXES = (".md", ".markdown")
MD_ROUND_RE = re.compile(r"^##\s+(.+?)\s*$")
MD_ITEM_RE = re.compile(r"^(?:[-*]|\d+[.)])\s+(.+)$")
MD_FIELD_RE = re.compile(r"^\s+(?:[-*]\s+)?(kind|reference)\s*:\s*(.*)$", re.IGNORECASE)
KINDS = ("technical", "system-design", "behavioral")


def parse_markdown_bank(text: str, bank: str, name: str = "<bank>") -> ParsedBank:
    """A simple markdown bank: `## Round N` (or `## Additional`) headings, one question per list item,
    with optional indented `kind:` and `reference:` lines (the reference may continue on indented lines)."""
    result = ParsedBank()
    origin, round_, seen = bank, "", set()
    current: Question | None = None
    field = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# "):
            origin = line[2:].strip() or bank
            continue
        heading = MD_ROUND_RE.match(line)
        if heading:
            round_, current = _round_of(heading.group(1)), None
            if not round_:
                raise CoachError(
                    f"{name}: line {number}: a '## ' heading must name a round ('## Round 2' or '## Additional')"
                )
            continue
        item = MD_ITEM_RE.match(line)
        if item and round_:
            question_text = " ".join(item.group(1).split())
            prefix = "add" if round_ == "additional" else f"r{round_}"
            base = qid = f"{prefix}-{slugify(question_text)}"
            n = 2
            while qid in seen:
                qid, n = f"{base}-{n}", n + 1
            seen.add(qid)
            current = Question(
                id=qid,
                text=question_text,
                round=round_,
                source="own",
                origin=origin,
                category="General",
                kind=classify(question_text, ""),
                bank=bank,
            )
            result.questions.append(current)
            field = ""
            continue
        attr = MD_FIELD_RE.match(line)
        if attr and current is not None:
            field, value = attr.group(1).lower(), attr.group(2).strip()
            if field == "kind":
                if value not in KINDS:
                    raise CoachError(
                        f"{name}: line {number}: kind must be one of {', '.join(KINDS)}, not {value!r}"
                    )
                current.kind = value
            else:
                current.reference = value
            continue
        if (
            line.startswith((" ", "\t"))
            and line.strip()
            and current is not None
            and field == "reference"
        ):
            current.reference = f"{current.reference} {line.strip()}".strip()
    if not result.questions:
        raise CoachError(f"{name}: no questions found; {MARKDOWN_HINT}")
    return result


def load_bank_file(path: Path, bank: str) -> ParsedBank:
    """Read and parse one question-bank file, with one-line errors for unreadable input."""
    text = read_text(path, MAX_BANK_BYTES, "a question-bank file")
    if "\x00" in text:
        raise CoachError(f"{path}: contains NUL bytes; not a text file")
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return parse_markdown_bank(text, bank=bank, name=str(path))
    return parse_bank(text, bank=bank, name=str(path))


def shipped_bank() -> ParsedBank:
    """Every question bank shipped under corpus/questions/."""
    merged = ParsedBank()
    for path in sorted((corpus_dir() / "questions").glob("*.rst")):
        parsed = load_bank_file(path, bank="seed")
        merged.questions.extend(parsed.questions)
        merged.tips.extend(parsed.tips)
    return merged


def find_question(questions: list[Question], question_id: str) -> Question:
    """The question with this id, or an error that suggests the nearest ids."""
    import difflib

    for question in questions:
        if question.id == question_id:
            return question
    ids = [q.id for q in questions]
    close = difflib.get_close_matches(question_id, ids, n=3, cutoff=0.4)
    if not close:
        close = [i for i in ids if question_id.lower() in i][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else "; list ids with `coach questions`"
    raise CoachError(f"unknown question id {question_id!r}{hint}")
