"""The offline embedder: no download, meaningful similarities, batch-independent vectors, and the
retrieval it gives over the shipped corpus. These are the tests where the real model is the point;
every other store test uses the fake embedder in conftest.py."""

import numpy as np

from coach.app import Coach
from coach.config import load_settings
from coach.corpus.bank import shipped_bank
from coach.search.embeddings import MiniLMEmbedder, embedder_for, offline_embedder
from coach.search.store import NOTES


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


def test_the_default_embedder_is_minilm_loaded_on_first_use(home):
    embedder = embedder_for(load_settings())
    assert (embedder.name, embedder.dimension) == (MiniLMEmbedder.name, 384)
    assert np.array_equal(
        embedder.embed(["position bias"]), offline_embedder().embed(["position bias"])
    )


# The session's store (conftest.store_dir) is ingested with MiniLM: these tests read it through the
# coach, as `coach practice` and `coach questions search` do.


def test_every_question_retrieves_its_own_note_in_top_3(ingested):
    coach = Coach()
    questions = shipped_bank().questions
    hits = coach.store.query_many(NOTES, [q.prompt for q in questions], n=30)
    misses = []
    for q, results in zip(questions, hits):
        top_notes = []
        for h in results:
            if h.metadata["note_id"] not in top_notes:
                top_notes.append(h.metadata["note_id"])
        if not any(q.id in coach.notes[n].questions for n in top_notes[:3] if n in coach.notes):
            misses.append((q.id, top_notes[:3]))
    assert misses == []


def test_question_search_finds_a_paraphrase(ingested):
    results = Coach().search("correcting position bias in click logs", n=3)
    assert results[0][0].id == "r2-position-bias"
    assert results[0][1] > results[1][1]
