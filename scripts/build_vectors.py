"""Rebuild the prebuilt vectors of the shipped corpus (`make vectors`): run after editing notes or the
question bank. tests/test_prebuilt.py fails while they are stale."""

from __future__ import annotations

import time

import numpy as np

from coach.search.embeddings import PREBUILT, MiniLMEmbedder, text_key
from coach.search.ingest import shipped_texts


def main() -> None:
    started = time.perf_counter()
    texts = shipped_texts()
    # float16 halves the file; cosine similarities move by under 1e-3.
    vectors = MiniLMEmbedder().embed(texts).astype(np.float16)
    PREBUILT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PREBUILT, keys=np.array([text_key(t) for t in texts]), vectors=vectors)
    print(f"{len(texts)} texts -> {PREBUILT} ({PREBUILT.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
