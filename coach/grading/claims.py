"""The claims cross-encoder: does a candidate's clause entail, contradict, or say nothing about a key point.

A MiniLM-L6 cross-encoder, int8 ONNX, shipped in coach/grading/data/ and trained at development time
by scripts/train_claims.py (SemEval-2013 Task 7 answers plus the reference notes' contrastive
examples). It reads the pair together, so a negated or inverted claim scores as a contradiction
rather than as a close match, which embedding similarity cannot tell apart.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from coach.errors import CoachError
from coach.search.embeddings import minilm_files
from coach.search.onnx import inference_session, length_batches, tokenizer

LABELS = ("entails", "contradicts", "neither")  # column order of ClaimJudge.judge
ENTAILS, CONTRADICTS, NEITHER = range(3)
MODEL_FILE = Path(__file__).parent / "data" / "claims-minilm-l6-int8.onnx"
BATCH_SIZE = 64
BATCH_TOKENS = 4096  # padded tokens per batch; bounds memory on long clauses


def model_info(model_path: Path = MODEL_FILE) -> dict:
    """The JSON written beside the model: labels, max length, tokenizer, training data, metrics."""
    path = model_path.with_suffix(".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CoachError(
            f"claims model metadata unreadable: {path} ({exc}); reinstall coach"
        ) from None


class ClaimJudge:
    """Scores (key point, clause) pairs as entails / contradicts / neither; loads the model on first use."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        threads: int | None = None,
    ):
        self.model_path = model_path or MODEL_FILE
        self._tokenizer_path = tokenizer_path
        self._threads = threads
        self._session = None
        self._tokenizer = None
        self._inputs: set[str] = set()

    def _load(self) -> None:
        if not self.model_path.is_file():
            raise CoachError(f"claims model missing: {self.model_path}; reinstall coach")
        info = model_info(self.model_path)
        if tuple(info.get("labels", ())) != LABELS:
            raise CoachError(f"claims model labels {info.get('labels')} are not {list(LABELS)}")
        path = self._tokenizer_path
        if path is None:
            # The model was trained with all-MiniLM-L6-v2's vocabulary, which the embedder ships already.
            path = minilm_files()[1]
        self._tokenizer = tokenizer(path, int(info["max_length"]))
        self._session = inference_session(self.model_path, self._threads)
        self._inputs = {i.name for i in self._session.get_inputs()}

    def judge(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Probabilities, shape (len(pairs), 3), columns in LABELS order, for (key point, clause) pairs."""
        if not pairs:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        if self._session is None:
            self._load()
        encodings = self._tokenizer.encode_batch([(point, clause) for point, clause in pairs])
        out = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
        for batch in length_batches([len(e.ids) for e in encodings], BATCH_SIZE, BATCH_TOKENS):
            out[batch] = self._run([encodings[j] for j in batch])
        return out

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feeds = {
            name: np.zeros((len(encodings), width), dtype=np.int64)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][row, :n] = e.ids
            feeds["attention_mask"][row, :n] = e.attention_mask
            feeds["token_type_ids"][row, :n] = e.type_ids
        logits = self._session.run(
            ["logits"], {k: v for k, v in feeds.items() if k in self._inputs}
        )[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def claim_judge() -> ClaimJudge:
    """The process-wide claims judge (the model loads on its first pair)."""
    return ClaimJudge()
