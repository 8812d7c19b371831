"""The Chroma vector store: embedded PersistentClient by default, HttpClient for a Chroma server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from coach.config import Settings, redact_url
from coach.errors import CoachError
from coach.llm.client import redact
from coach.models import Note, Question
from coach.search.embeddings import Embedder, embedder_for

QUESTIONS = "questions"
NOTES = "notes"


def content_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{prefix}:{digest}"


@dataclass
class Document:
    id: str
    text: str
    metadata: dict


@dataclass
class SyncReport:
    collection: str
    added: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def embedded(self) -> int:
        return self.added


@dataclass
class Hit:
    id: str
    text: str
    metadata: dict
    similarity: float


@dataclass
class IngestReport:
    reports: list[SyncReport] = field(default_factory=list)

    @property
    def embedded(self) -> int:
        return sum(r.embedded for r in self.reports)


def question_documents(questions: list[Question]) -> list[Document]:
    docs = []
    for q in questions:
        meta = {
            "question_id": q.id,
            "round": q.round,
            "kind": q.kind,
            "source": q.source,
            "category": q.category,
            "bank": q.bank,
        }
        docs.append(Document(content_id(q.id, q.text, repr(sorted(meta.items()))), q.text, meta))
    return docs


def note_chunks(notes: list[Note]) -> list[Document]:
    """One chunk per `## Section` of each note, titled so a chunk reads on its own."""
    docs = []
    for note in notes:
        for section, body in note.sections.items():
            if not body.strip():
                continue
            text = f"{note.title}: {section}\n{body}"
            meta = {
                "note_id": note.id,
                "section": section,
                "kind": note.kind,
                "questions": ",".join(note.questions),
            }
            slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")
            docs.append(
                Document(
                    content_id(f"{note.id}#{slug}", text, repr(sorted(meta.items()))), text, meta
                )
            )
    return docs


class _ChromaEmbeddingFunction:
    """Adapter so Chroma never falls back to its own (downloading) default embedding function."""

    def __init__(self, embedder: Embedder):
        self._embedder = embedder

    def __call__(self, input):
        return [v for v in self._embedder.embed(list(input))]

    def embed_query(self, input):
        return self(input)

    @staticmethod
    def name() -> str:
        return "coach"

    def get_config(self) -> dict:
        return {"embedder": self._embedder.name}

    @staticmethod
    def build_from_config(config: dict):
        # Chroma rebuilds the function when it opens a collection; the coach always passes its own.
        return _ChromaEmbeddingFunction(_Unavailable())

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def validate_config_update(self, old_config, new_config) -> None:
        return None

    @staticmethod
    def validate_config(config) -> None:
        return None


class _Unavailable:
    name = "unavailable"
    dimension = 0

    def embed(self, texts):
        raise CoachError("the coach's collections must be opened through coach")


class Store:
    """Questions and note chunks in two Chroma collections named by embedder."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or embedder_for(settings)
        self.client = _connect(settings)
        self._collections: dict[str, object] = {}

    def collection_name(self, kind: str) -> str:
        # Vectors of different embedders cannot share a collection (384-d vs 1536-d).
        return f"{kind}-{self.embedder.name}"

    def collection(self, kind: str):
        if kind not in self._collections:
            try:
                self._collections[kind] = self.client.get_or_create_collection(
                    self.collection_name(kind),
                    embedding_function=_ChromaEmbeddingFunction(self.embedder),
                    metadata={"hnsw:space": "cosine"},
                )
            except CoachError:
                raise
            except Exception as exc:
                raise _store_error(self.settings, exc) from None
        return self._collections[kind]

    def sync(
        self,
        kind: str,
        documents: list[Document],
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """Make the collection hold exactly these documents; embed only new or changed ones."""
        collection = self.collection(kind)
        report = SyncReport(collection=kind)
        try:
            existing = set(collection.get(include=[])["ids"])
            wanted = {d.id: d for d in documents}
            stale = sorted(existing - wanted.keys())
            new = [d for d in documents if d.id not in existing]
            report.unchanged = len(wanted) - len(new)
            if stale:
                collection.delete(ids=stale)
                report.deleted = len(stale)
            for start in range(0, len(new), 64):
                batch = new[start : start + 64]
                vectors = self.embedder.embed([d.text for d in batch])
                collection.add(
                    ids=[d.id for d in batch],
                    documents=[d.text for d in batch],
                    metadatas=[d.metadata for d in batch],
                    embeddings=[v.tolist() for v in vectors],
                )
                report.added += len(batch)
                if progress:
                    progress(report.added, len(new))
        except CoachError:
            raise
        except Exception as exc:
            raise _store_error(self.settings, exc) from None
        return report

    def count(self, kind: str) -> int:
        try:
            return self.collection(kind).count()
        except CoachError:
            raise
        except Exception as exc:
            raise _store_error(self.settings, exc) from None

    def query(self, kind: str, text: str, n: int = 5, where: dict | None = None) -> list[Hit]:
        """Nearest documents to `text`, most similar first (similarity = 1 - cosine distance)."""
        return self.query_many(kind, [text], n, where)[0]

    def query_many(
        self, kind: str, texts: list[str], n: int = 5, where: dict | None = None
    ) -> list[list[Hit]]:
        collection = self.collection(kind)
        try:
            total = collection.count()
            if total == 0:
                raise CoachError("the store is empty; run `coach ingest` first")
            vectors = self.embedder.embed(texts)
            result = collection.query(
                query_embeddings=[v.tolist() for v in vectors],
                n_results=min(n, total),
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        except CoachError:
            raise
        except Exception as exc:
            raise _store_error(self.settings, exc) from None
        out = []
        for ids, docs, metas, dists in zip(
            result["ids"], result["documents"], result["metadatas"], result["distances"]
        ):
            out.append(
                [
                    Hit(i, d, m or {}, round(1.0 - float(dist), 6))
                    for i, d, m, dist in zip(ids, docs, metas, dists)
                ]
            )
        return out


def _connect(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.coach_chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.coach_chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise CoachError(
                f"COACH_CHROMA_URL: not an http(s) URL: {redact_url(settings.coach_chroma_url)}"
            )
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception:
            raise CoachError(
                f"Chroma server at {redact_url(settings.coach_chroma_url)} does not answer; start it with "
                "`chroma run --path DIR` or unset COACH_CHROMA_URL"
            ) from None
        return client
    path = settings.chroma_path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CoachError(f"cannot create the Chroma directory {path} ({exc.strerror})") from None
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise _store_error(settings, exc) from None


def _store_error(settings: Settings, exc: Exception) -> CoachError:
    where = (
        redact_url(settings.coach_chroma_url)
        if settings.coach_chroma_url
        else str(settings.chroma_path)
    )

    detail = (
        redact(str(exc).splitlines()[0][:160], settings) if str(exc).strip() else type(exc).__name__
    )
    return CoachError(
        f"the Chroma store at {where} is unreadable ({detail}); "
        "run `coach ingest --rebuild` to recreate it from the corpus"
    )
