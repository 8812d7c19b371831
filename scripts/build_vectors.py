"""Rebuild the prebuilt vectors of the shipped corpus (`make vectors`): run after editing notes or the
question bank. Unchanged texts keep their vectors; only new ones are embedded. tests/test_prebuilt.py
fails while the table is stale."""

from __future__ import annotations

import time

import numpy as np

from coach.search.embeddings import PREBUILT, MiniLMEmbedder, text_key
from coach.search.ingest import shipped_texts


def main() -> None:
    started = time.perf_counter()
    texts = shipped_texts()
    keys = [text_key(t) for t in texts]
    old: dict[str, np.ndarray] = {}
    if PREBUILT.is_file():
        with np.load(PREBUILT) as table:
            old = dict(zip(table["keys"].tolist(), table["vectors"]))
    missing = [i for i, k in enumerate(keys) if k not in old]
    # float16 halves the file; cosine similarities move by under 1e-3.
    vectors = np.zeros((len(texts), MiniLMEmbedder.dimension), dtype=np.float16)
    for i, k in enumerate(keys):
        if k in old:
            vectors[i] = old[k]
    if missing:
        vectors[missing] = MiniLMEmbedder().embed([texts[i] for i in missing]).astype(np.float16)
    PREBUILT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PREBUILT, keys=np.array(keys), vectors=vectors)
    print(
        f"{len(texts)} texts ({len(missing)} embedded, {len(set(old) - set(keys))} dropped) -> {PREBUILT} "
        f"({PREBUILT.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
