"""The vectors shipped for the corpus: current (a note edit without `make vectors` fails here) and exact."""

from __future__ import annotations

import numpy as np

from coach.search.embeddings import PREBUILT, MiniLMEmbedder, prebuilt_vectors, text_key
from coach.search.ingest import shipped_texts


def test_shipped_vectors_cover_exactly_the_shipped_corpus():
    keys = {text_key(t) for t in shipped_texts()}
    shipped = set(prebuilt_vectors())
    missing, extra = keys - shipped, shipped - keys
    assert not missing and not extra, (
        f"{len(missing)} corpus texts have no shipped vector and {len(extra)} shipped vectors match no text: "
        f"run `make vectors` ({PREBUILT.name})"
    )


def test_shipped_vectors_equal_what_the_model_computes():
    texts = shipped_texts()[::150]
    fresh = MiniLMEmbedder().embed(texts)
    shipped = np.stack([prebuilt_vectors()[text_key(t)] for t in texts])
    assert np.abs(fresh - shipped).max() < 2e-4
