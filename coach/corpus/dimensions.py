"""The general dimensions an answer is graded on beside its content points, by question kind.

A note may choose other keys for a question whose kind's defaults do not fit it (front matter
`dimensions:`).
"""

from __future__ import annotations

DIMENSIONS: dict[str, list[tuple[str, str]]] = {
    "technical": [
        ("depth", "Depth and trade-offs: explains why, names alternatives and what each costs."),
        ("evaluation", "Evaluation and metrics: says how success is measured offline and online."),
        ("clarity", "Clarity: a structured answer that leads with the main idea."),
    ],
    "system-design": [
        ("requirements", "Requirements: clarifies goals, scale, latency and constraints first."),
        ("data", "Data: names the data, labels and features, and their pitfalls."),
        ("modelling", "Modelling: chooses a model and justifies it against alternatives."),
        ("serving", "Serving: covers online architecture, latency budget and cost."),
        ("evaluation", "Evaluation: offline metrics plus an online A/B test with guardrails."),
        ("monitoring", "Monitoring: drift, alerts, feedback loops and retraining."),
    ],
    "behavioral": [
        ("star", "STAR structure: situation, task, actions and result in order."),
        ("ownership", "Ownership: the candidate's own decisions and actions, in the first person."),
        ("result", "Measurable result: a number, a metric or a concrete outcome."),
        ("reflection", "Reflection: what they learned or would do differently."),
    ],
}
# Dimensions a note may choose for a question whose kind's defaults do not fit it.
EXTRA_DIMENSIONS = {
    "practices": "Concrete practices: names specific mechanisms, rituals or artefacts and how they work.",
    "illustration": "Illustration: grounds the approach in one concrete example, not only principles.",
    "tradeoffs": "Trade-offs: says what the approach costs and when they would choose differently.",
}
DIMENSION_TEXT = {
    key: text for dims in DIMENSIONS.values() for key, text in dims
} | EXTRA_DIMENSIONS
