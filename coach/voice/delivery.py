"""How an answer was spoken, measured on its timed transcript: time against the budget, pace, filler
words, long pauses and stretches without a signpost. Pure functions on data; no imports beyond the
standard library and the transcript types.

Definitions (what the figures mean):
* duration_s: length of the recording. time_used_s: from the start of the recording to the end
  of the last word (what an interviewer waited; trailing silence before stopping does not count).
  speaking_s: first word start to last word end.
* words: recognised words, fillers included; a piece Whisper splits off ("trade" + "-off",
  "it" + "'s") is joined back. wpm = words / speaking_s. The 120-160 wpm band in the notes is a
  rule of thumb for presentations and interviews, not a finding of this coach.
* pauses: silences over PAUSE_S (2 s) between two words, as (start, gap); the silence before the
  first word is thinking time and is not a pause.
* fillers, counted on the transcript's words with their punctuation (see FILLERS and the rules in
  `_fillers`), preferring to miss a filler over counting a real word:
  - always: um (umm, uhm, mm), uh (uhh), er (erm), hmm (hm), basically, actually;
  - "you know": unless it is a question or clause ("do you know", "if you know") or "know" takes
    an object with no comma between ("you know the answer", "you know that...");
  - "I mean": unless "what I mean", or "mean" takes an object with no comma ("I mean that...");
  - "kind of" / "sort of": unless after a determiner ("a kind of", "what sort of", "this kind of");
  - "like": only set off by punctuation ("like," / ", like, you know"), never after a word that
    makes it a verb or a comparison ("I like,", "would like", "looks like", "things like,");
    so an unpunctuated filler "like" is missed rather than "like a queue" counted;
  - "so": only at the start of a clause (first word, after . ! ? ; : or after another filler
    there), not "so that", and not when it opens a signpost ("so the trade-off is").
* signposts (SIGNPOSTS): words that announce structure - sequence (first, second, then, next,
  finally...), examples (for example, for instance), trade-offs and results (the trade-off, on the
  other hand, however, the result, as a result, the reason), summaries (to summarise, in summary,
  overall, in short, in conclusion). "second" after "per", "a" or a number is a unit, not a
  signpost. longest_unstructured_s is the longest stretch of speech from the first word, a
  signpost or the last word to the next of these.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field

from coach.clock import clock
from coach.voice.transcribe import Transcript

PAUSE_S = 2.0
COMFORTABLE_WPM = (120, 160)

ALWAYS = {
    "um": "um", "umm": "um", "uhm": "um", "mm": "um",
    "uh": "uh", "uhh": "uh",
    "er": "er", "erm": "er",
    "hmm": "hmm", "hm": "hmm",
    "basically": "basically", "actually": "actually",
}  # fmt: skip
FILLERS = sorted({*ALWAYS.values(), "you know", "i mean", "kind of", "sort of", "like", "so"})

_YOU_KNOW_NOT_AFTER = {
    "do", "did", "don't", "didn't", "if", "as", "whether", "would", "could", "should", "might",
    "will", "may", "what", "how", "where", "when", "that", "unless", "once",
}  # fmt: skip
_KNOW_OBJECTS = {
    "that", "what", "how", "why", "when", "where", "whether", "if", "who", "which", "the", "a",
    "an", "it", "this", "them", "him", "her", "about", "your", "my", "our", "their", "its",
}  # fmt: skip
_MEAN_NOT_AFTER = {"what", "which", "that", "if", "do", "did"}
_MEAN_OBJECTS = {"that", "to", "it", "the", "a", "an", "this", "by", "something", "is"}
_DETERMINERS = {
    "a", "an", "the", "this", "that", "these", "those", "what", "which", "some", "any", "every",
    "each", "one", "same", "different", "another", "no", "whatever", "my", "your", "our",
    "their", "its", "his", "her", "certain", "particular", "right", "wrong", "other", "first",
}  # fmt: skip
_LIKE_NOT_AFTER = {
    "i", "you", "we", "they", "he", "she", "would", "i'd", "we'd", "you'd", "they'd", "he'd",
    "she'd", "do", "don't", "does", "doesn't", "did", "didn't", "really", "also", "look", "looks",
    "looked", "looking", "seem", "seems", "sound", "sounds", "feel", "feels", "felt", "something",
    "anything", "nothing", "things", "thing", "stuff", "more", "just", "much", "exactly", "not",
}  # fmt: skip
_SO_NOT_BEFORE = {"that", "far", "much", "many", "long"}

SIGNPOSTS = [
    "first", "firstly", "first of all", "second", "secondly", "third", "thirdly", "then", "next",
    "after that", "finally", "lastly", "to start", "to begin", "for example", "for instance",
    "the tradeoff", "tradeoff", "trade off", "on the other hand", "however", "the result",
    "as a result", "the reason", "to summarise", "to summarize", "in summary", "to sum up",
    "overall", "in short", "in conclusion",
]  # fmt: skip
_SIGNPOST_WORDS = sorted((tuple(s.split()) for s in SIGNPOSTS), key=len, reverse=True)
_UNIT_BEFORE = {"per", "a", "one", "each", "half", "every", "split", "nano", "milli"}
_CLAUSE_END = re.compile(r"[.!?;:]")


@dataclass
class _Token:
    word: str  # lower case, inner hyphens and apostrophes kept: "trade-off", "i'd"
    key: str  # for signposts: no hyphens ("tradeoff")
    start: float
    end: float
    comma_after: bool = False
    clause_end: bool = False  # . ! ? ; : after it


@dataclass
class Delivery:
    duration_s: float
    budget_s: float | None
    words: int
    wpm: float
    fillers: dict[str, int] = field(default_factory=dict)
    fillers_per_min: float = 0.0
    pauses: list[tuple[float, float]] = field(default_factory=list)  # (start, gap) over PAUSE_S
    longest_unstructured_s: float = 0.0
    unstructured_from_s: float = 0.0
    over_budget: bool = False
    time_used_s: float = 0.0
    speaking_s: float = 0.0
    signposts: int = 0

    @property
    def filler_count(self) -> int:
        return sum(self.fillers.values())

    def notes(self) -> list[str]:
        """One plain line per observation: figures, and the rule of thumb they are compared with."""
        if self.words == 0:
            return ["No speech was recognised"]
        lines = []
        if self.budget_s:
            gap = self.time_used_s - self.budget_s
            tail = f" ({clock(gap)} over)" if self.over_budget else f" ({clock(-gap)} to spare)"
            lines.append(
                f"You spoke {clock(self.time_used_s)} against a {clock(self.budget_s)} budget{tail}"
            )
        else:
            lines.append(f"You spoke for {clock(self.time_used_s)}")
        low, high = COMFORTABLE_WPM
        where = "within" if low <= self.wpm <= high else "above" if self.wpm > high else "below"
        lines.append(
            f"{self.words} words at {self.wpm:.0f} words a minute, {where} the {low}-{high} "
            "rule of thumb for clear speech"
        )
        if self.filler_count:
            listed = ", ".join(
                f"{name} x{n}"
                for name, n in sorted(self.fillers.items(), key=lambda i: (-i[1], i[0]))
            )
            lines.append(
                f"{self.filler_count} filler word{_s(self.filler_count)} "
                f"({self.fillers_per_min:.1f}/min): {listed}"
            )
        else:
            lines.append("No filler words found in the transcript")
        if self.pauses:
            start, gap = max(self.pauses, key=lambda p: p[1])
            lines.append(
                f"{len(self.pauses)} pause{_s(len(self.pauses))} over {PAUSE_S:g} s, "
                f"longest {gap:.1f} s at {clock(start)}"
            )
        else:
            lines.append(f"No pauses over {PAUSE_S:g} s")
        if self.signposts:
            lines.append(
                f"{clock(self.longest_unstructured_s)} without a signpost from "
                f"{clock(self.unstructured_from_s)}"
            )
        else:
            lines.append(
                f"No signposts (first, then, for example, the trade-off...) in "
                f"{clock(self.speaking_s)} of speech"
            )
        return lines

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pauses"] = [list(p) for p in self.pauses]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Delivery:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["pauses"] = [(float(a), float(b)) for a, b in known.get("pauses", [])]
        known["fillers"] = {str(k): int(v) for k, v in (known.get("fillers") or {}).items()}
        return cls(**known)


def measure(transcript: Transcript, budget_s: float | None = None) -> Delivery:
    """The delivery figures of a transcript (see the module docstring for what each one means)."""
    tokens = _tokens(transcript)
    budget = float(budget_s) if budget_s else None
    if not tokens:
        return Delivery(
            duration_s=round(transcript.duration_s, 2), budget_s=budget, words=0, wpm=0.0
        )
    first, last = tokens[0].start, tokens[-1].end
    speaking = max(last - first, 0.0)
    minutes = speaking / 60
    fillers = _fillers(tokens)
    total = sum(fillers.values())
    pauses = [
        (round(a.end, 2), round(b.start - a.end, 2))
        for a, b in itertools.pairwise(tokens)
        if b.start - a.end > PAUSE_S
    ]
    marks = _signposts(tokens)
    bounds = [first, *marks, last]
    stretches = [(b - a, a) for a, b in itertools.pairwise(bounds)]
    longest, since = max(stretches, default=(0.0, first))
    return Delivery(
        duration_s=round(transcript.duration_s, 2),
        budget_s=budget,
        words=len(tokens),
        wpm=round(len(tokens) / minutes, 1) if speaking >= 1 else 0.0,
        fillers=fillers,
        fillers_per_min=round(total / minutes, 2) if speaking >= 1 else 0.0,
        pauses=pauses,
        longest_unstructured_s=round(longest, 2),
        unstructured_from_s=round(since, 2),
        over_budget=bool(budget and last > budget),
        time_used_s=round(last, 2),
        speaking_s=round(speaking, 2),
        signposts=len(marks),
    )


# --- tokens ----------------------------------------------------------------------------------------


def _tokens(transcript: Transcript) -> list[_Token]:
    tokens: list[_Token] = []
    for w in transcript.words:
        raw = w.text.strip()
        if not re.search(r"\w", raw):
            if tokens and raw:  # punctuation Whisper gave a word of its own: attach it
                _punctuate(tokens[-1], raw)
            continue
        core = re.sub(r"^[^\w'-]+|[^\w'-]+$", "", raw).lower().replace("\u2019", "'")
        trail = raw[len(raw.rstrip(".,!?;:\"')]")) :]
        if tokens and core[:1] in ("-", "'") and not tokens[-1].comma_after:
            # "trade" + "-off", "it" + "'s": one word split in two
            prev = tokens[-1]
            prev.word += core
            prev.key = _key(prev.word)
            prev.end = max(prev.end, w.end)
            _punctuate(prev, trail)
            continue
        core = core.strip("-'")
        token = _Token(word=core, key=_key(core), start=float(w.start), end=float(w.end))
        _punctuate(token, trail)
        tokens.append(token)
    return tokens


def _punctuate(token: _Token, trail: str) -> None:
    token.comma_after = token.comma_after or "," in trail
    token.clause_end = token.clause_end or bool(_CLAUSE_END.search(trail))


def _key(word: str) -> str:
    return word.replace("-", "")


# --- fillers ---------------------------------------------------------------------------------------


def _fillers(tokens: list[_Token]) -> dict[str, int]:
    counts: dict[str, int] = {}

    def count(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    at_clause_start = True
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1].word if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        found = ""
        width = 1
        if tok.word in ALWAYS:
            found = ALWAYS[tok.word]
        elif tok.word == "you" and nxt and nxt.word == "know" and not tok.comma_after:
            after = tokens[i + 2].word if i + 2 < len(tokens) else ""
            takes_object = not nxt.comma_after and not nxt.clause_end and after in _KNOW_OBJECTS
            if prev not in _YOU_KNOW_NOT_AFTER and not takes_object:
                found, width = "you know", 2
        elif tok.word == "i" and nxt and nxt.word == "mean" and not tok.comma_after:
            after = tokens[i + 2].word if i + 2 < len(tokens) else ""
            takes_object = not nxt.comma_after and not nxt.clause_end and after in _MEAN_OBJECTS
            if prev not in _MEAN_NOT_AFTER and not takes_object:
                found, width = "i mean", 2
        elif tok.word in ("kind", "sort") and nxt and nxt.word == "of" and not tok.comma_after:
            if prev not in _DETERMINERS:
                found, width = f"{tok.word} of", 2
        elif tok.word == "like":
            set_off = tok.comma_after or tok.clause_end
            if set_off and prev not in _LIKE_NOT_AFTER:
                found = "like"
        elif tok.word == "so" and at_clause_start:
            rest = [t.key for t in tokens[i + 1 : i + 4]]
            opens_signpost = any(
                tuple(rest[: len(s)]) == s for s in _SIGNPOST_WORDS if s != ("then",)
            )
            if not opens_signpost and (not rest or rest[0] not in _SO_NOT_BEFORE):
                found = "so"
        last = tokens[i + width - 1]
        if found:
            count(found)
            # a filler at the start of a clause leaves the next word at the start too ("Um, so,")
            at_clause_start = at_clause_start or last.clause_end
        else:
            at_clause_start = last.clause_end
        i += width
    return counts


# --- signposts -------------------------------------------------------------------------------------


def _signposts(tokens: list[_Token]) -> list[float]:
    """Start times of the signposts, in order."""
    keys = [t.key for t in tokens]
    times = []
    i = 0
    while i < len(tokens):
        for phrase in _SIGNPOST_WORDS:
            if tuple(keys[i : i + len(phrase)]) == phrase:
                if (
                    phrase == ("second",)
                    and i
                    and (keys[i - 1] in _UNIT_BEFORE or keys[i - 1].isdigit())
                ):
                    continue
                times.append(tokens[i].start)
                i += len(phrase) - 1
                break
        i += 1
    return times


# --- text ------------------------------------------------------------------------------------------


def _s(n: int) -> str:
    return "" if n == 1 else "s"
