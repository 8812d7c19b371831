"""How well does the injection guard catch attacks it was not written from?

`.venv/bin/python bench/injection.py` (add `--show` to list what was missed or wrongly flagged,
`--semeval` to add the SemEval-2013 student answers in ../shared/data to the benign text).

Attacks: tests/data/attacks_heldout.txt, written from general knowledge of prompt-injection styles
without reading the guard's patterns, and tests/data/attacks_fresh.txt, written before the guard's
patterns were last changed and never used to change them (see the head of each file). Benign text:
the answers of corpus/calibration/calibration.csv whose label is not an attack (independent.csv is
never read: it is kept for blind evaluation).

Figures printed:
* detection: attacks flagged by `injection_findings`, on their own and inside an honest answer
  (appended after it, and as a paragraph of its own between its sentences);
* stripped: of those embedded attacks, how often `split_attack` removes the attack and keeps every
  sentence of the honest answer (what the offline grader relies on);
* false positives: benign answers flagged, and benign sentences `strip_injection` would drop.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from coach.grading.injection import injection_findings, split_attack, strip_injection
from coach.grading.rubric import split_sentences

ATTACKS = ROOT / "tests" / "data" / "attacks_heldout.txt"
FRESH = ROOT / "tests" / "data" / "attacks_fresh.txt"
SEMEVAL = ROOT.parent / "shared" / "data" / "semeval2013-train" / "train.csv"
CALIBRATION = ROOT / "corpus" / "calibration" / "calibration.csv"
ATTACK_LABELS = {"injection", "adversarial"}

_ESCAPE = re.compile(r"\\(n|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    return "\n" if code == "n" else chr(int(code[1:], 16))


def load_attacks(path: Path = ATTACKS) -> list[str]:
    """One attack per non-comment line; `\\n`, `\\uXXXX` and `\\UXXXXXXXX` decoded."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        _ESCAPE.sub(_unescape, line) for line in lines if line.strip() and not line.startswith("#")
    ]


def benign_answers(path: Path = CALIBRATION) -> list[str]:
    """Calibration answers that are not attacks (every honest style, including keyword stuffing)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            row["answer"] for row in csv.DictReader(handle) if row["label"] not in ATTACK_LABELS
        ]


def honest_bases(path: Path = CALIBRATION, count: int = 4) -> list[str]:
    """A few good calibration answers, one per question, to hide the attacks in."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["label"] == "good"]
    seen, bases = set(), []
    for row in rows:
        if row["question_id"] not in seen and not injection_findings(row["answer"]):
            seen.add(row["question_id"])
            bases.append(row["answer"])
    return bases[:count]


def _insert_middle(base: str, attack: str) -> str:
    """The attack as a paragraph of its own between the answer's sentences."""
    sentences = split_sentences(base)
    half = len(sentences) // 2
    return "\n\n".join([" ".join(sentences[:half]), attack, " ".join(sentences[half:])])


PLACEMENTS = {
    "appended": lambda base, attack: f"{base}\n\n{attack}",
    "inserted": _insert_middle,
}


@dataclass
class Measurement:
    attacks: int
    detected: list[bool]
    embedded: int = 0
    embedded_detected: int = 0
    stripped: int = 0
    benign: int = 0
    benign_flagged: list[str] = field(default_factory=list)
    benign_sentences: int = 0
    benign_sentences_dropped: list[str] = field(default_factory=list)
    missed_embedded: list[str] = field(default_factory=list)

    @property
    def detection_rate(self) -> float:
        return sum(self.detected) / self.attacks

    @property
    def embedded_detection_rate(self) -> float:
        return self.embedded_detected / self.embedded

    @property
    def strip_rate(self) -> float:
        return self.stripped / self.embedded

    @property
    def false_positive_rate(self) -> float:
        return len(self.benign_flagged) / self.benign

    @property
    def sentence_false_positive_rate(self) -> float:
        return len(self.benign_sentences_dropped) / self.benign_sentences


def measure(attacks: list[str] | None = None, benign: list[str] | None = None) -> Measurement:
    """Detection on the held-out attacks (alone and embedded) and false positives on benign answers."""
    attacks = load_attacks() if attacks is None else attacks
    benign = benign_answers() if benign is None else benign
    m = Measurement(attacks=len(attacks), detected=[bool(injection_findings(a)) for a in attacks])
    for base in honest_bases():
        expected = " ".join(split_sentences(base))
        for placement, place in PLACEMENTS.items():
            for attack in attacks:
                text = place(base, attack)
                m.embedded += 1
                if injection_findings(text):
                    m.embedded_detected += 1
                else:
                    m.missed_embedded.append(f"{placement}: {attack}")
                clean, removed = split_attack(text)
                m.stripped += bool(removed) and clean == expected
    m.benign = len(benign)
    for answer in benign:
        if injection_findings(answer):
            m.benign_flagged.append(answer)
        sentences = split_sentences(answer)
        m.benign_sentences += len(sentences)
        m.benign_sentences_dropped.extend(strip_injection(sentences)[1])
    return m


def semeval_answers(path: Path = SEMEVAL) -> list[str]:
    """SemEval-2013 student answers and references (science short answers, no attacks)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted({row["answer"] for row in rows} | {row["reference_answer"] for row in rows})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show", action="store_true", help="List missed attacks and flagged benign text"
    )
    parser.add_argument(
        "--semeval", action="store_true", help=f"Also count false positives on {SEMEVAL}"
    )
    args = parser.parse_args(argv)
    benign = benign_answers()
    for path in (ATTACKS, FRESH):
        attacks = load_attacks(path)
        m = measure(attacks, benign)
        print(f"attacks:                 {path.relative_to(ROOT)} ({m.attacks})")
        print(f"detection (alone):       {sum(m.detected)}/{m.attacks} = {m.detection_rate:.3f}")
        print(
            f"detection (embedded):    {m.embedded_detected}/{m.embedded} = {m.embedded_detection_rate:.3f}"
        )
        print(f"stripped cleanly:        {m.stripped}/{m.embedded} = {m.strip_rate:.3f}")
        if args.show:
            for attack, hit in zip(attacks, m.detected):
                if not hit:
                    print(f"  missed: {attack!r}")
        print()
    print(
        f"false positives:         {len(m.benign_flagged)}/{m.benign} benign calibration answers = {m.false_positive_rate:.3f}"
    )
    print(
        f"benign sentences dropped: {len(m.benign_sentences_dropped)}/{m.benign_sentences} = "
        f"{m.sentence_false_positive_rate:.4f}"
    )
    if args.show:
        for answer in m.benign_flagged:
            print(f"  flagged: {answer[:100]!r}: {injection_findings(answer)}")
        for sentence in m.benign_sentences_dropped:
            print(f"  dropped: {sentence[:100]!r}")
    if args.semeval:
        texts = semeval_answers()
        flagged = [t for t in texts if injection_findings(t)]
        print(
            f"false positives (SemEval): {len(flagged)}/{len(texts)} = {len(flagged) / len(texts):.4f}"
        )
        if args.show:
            for text in flagged:
                print(f"  flagged: {text[:100]!r}: {injection_findings(text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
