"""The offline embedder: no download, meaningful similarities, batch-independent vectors."""

import numpy as np

from coach.search.embeddings import offline_embedder


def test_paraphrase_scores_higher_than_unrelated():
    e = offline_embedder()
    a, para, other = e.embed(
        [
            "Users click the top results more because of where they are shown.",
            "Items ranked higher get more clicks simply due to their position.",
            "The recipe needs two cups of flour and an egg.",
        ]
    )
    assert float(a @ para) > 0.6
    assert float(a @ para) > float(a @ other) + 0.4


def test_vectors_do_not_depend_on_batch_composition():
    e = offline_embedder()
    target = "Inverse propensity weighting corrects position bias in click logs."
    alone = e.embed([target])[0]
    others = [f"filler sentence number {i} " * (i % 7 + 1) for i in range(40)]
    mixed = e.embed(others[:17] + [target] + others[17:])[17]
    assert np.abs(alone - mixed).max() < 1e-4
    assert abs(float(np.linalg.norm(alone)) - 1.0) < 1e-5
    assert alone.shape == (384,)


def test_empty_input():
    assert offline_embedder().embed([]).shape == (0, 384)
