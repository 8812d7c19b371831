"""Answers are untrusted: detect text that addresses the grader instead of the interviewer."""

from __future__ import annotations

import re
import unicodedata

# Phrases that talk to the grader, in English and a few languages candidates use.
INJECTION_PATTERNS = [
    r"ignore (all |any |the )?(previous|prior|above|earlier|preceding)? ?(instructions|rubric|rules|prompt)",
    r"disregard (all |any |the )?(previous|prior|above)? ?(instructions|rubric|rules|prompt)",
    r"\b(as|you are) (the|an?) (grader|evaluator|examiner|judge|assessor)\b",
    r"\b(grader|evaluator|examiner|assessor|judge)\s*(:|,|must|should|will|please)",
    r"\b(give|award|assign|grant)\s+(this|my|the candidate|the answer|me|it|him|her)\b[^.\n]{0,30}"
    r"\b(10|ten|full|maximum|max|perfect|highest|top)\b",
    r"\b10\s*/\s*10\b|\bten out of ten\b|\bfull marks\b|\bperfect score\b",
    r"^\s*(system|assistant|developer)\s*:",
    r"\[(system|inst|/inst)\]|<\|?(system|im_start|im_end)\|?>|<<sys>>",
    r"\bnew instructions?\b|\boverride\b[^.\n]{0,30}\b(rubric|instructions|grading)\b",
    r"\bthis answer (is|should be) (graded|scored|rated|considered) (as )?(excellent|perfect|correct)\b",
    r"\b(rubric|grading) (is|has been) (updated|changed|satisfied)\b",
    r"ignora (las |todas las )?instrucciones|ignorez (les |toutes les )?instructions",
    r"ignoriere (alle |die )?(vorherigen )?anweisungen|volle punktzahl|note maximale|puntuaci[oó]n m[aá]xima",
    r"निर्देशों को (अनदेखा|नज़रअंदाज़)|पूरे अंक|10/10 दें",
    r"忽略(之前|以上|所有)?的?指令|满分",
]
_INJECTION_RE = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in INJECTION_PATTERNS]
_HIDDEN_CHARS = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\U000e0000-\U000e007f]")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def normalize(text: str) -> str:
    """NFKC-fold lookalike characters and drop zero-width ones, so disguised text is seen plainly."""
    return _HIDDEN_CHARS.sub("", unicodedata.normalize("NFKC", text))


def injection_findings(answer: str) -> list[str]:
    """Why this answer looks like it addresses the grader (empty if it does not)."""
    findings = []
    if _HIDDEN_CHARS.search(answer):
        findings.append("hidden characters (zero-width or tag characters)")
    if _HTML_COMMENT.search(answer):
        findings.append("hidden HTML comment")
    plain = normalize(_HTML_COMMENT.sub(" ", answer))
    collapsed = re.sub(r"\s+", " ", plain)
    for pattern in _INJECTION_RE:
        match = pattern.search(plain) or pattern.search(collapsed)
        if match:
            findings.append(f"text addressed to the grader: “{match.group(0).strip()[:60]}”")
            break
    return findings


def strip_injection(sentences: list[str]) -> tuple[list[str], list[str]]:
    """Split sentences into (kept, removed): removed ones address the grader and earn nothing."""
    kept, removed = [], []
    for sentence in sentences:
        (removed if injection_findings(sentence) else kept).append(sentence)
    return kept, removed
