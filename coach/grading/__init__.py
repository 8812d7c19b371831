"""Rubrics and the two graders (offline and LLM), the claims model and the injection guard."""
