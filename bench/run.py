"""Benchmarks for the coach: `make bench` (or `.venv/bin/python bench/run.py`).

Every figure is measured in the run that writes bench/results.md; nothing is carried over.
Each measurement that depends on process state (imports, ONNX sessions, Chroma) runs in a
fresh subprocess: either a coach CLI command or this file re-invoked as `--worker NAME`.
Peak memory is ru_maxrss: for a CLI command, the rusage os.wait4 returns for that one child
(what RUSAGE_CHILDREN reports, but per child); for a worker, getrusage(RUSAGE_SELF) inside it.

Nothing touches the network: OPENAI_* and COACH_* are removed from the environment, COACH_HOME
is a temporary directory, COACH_ENV_FILE points at a file that does not exist (so a developer's
.env is not read), and Chroma's ONNX embedding function is pointed at a directory holding the
coach's own model files, with its download method replaced by one that raises.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # .venv/bin: the coach script lives beside this python
RESULTS = ROOT / "bench" / "results.md"
CALIBRATION = ROOT / "corpus" / "calibration" / "calibration.csv"
QUESTION_ID = "r2-position-bias"
DIM = 384

# Targets the figures are compared against.
TARGET_STARTUP_RATIO = 1.5
TARGET_EMBED_SPEEDUP = 5.0
TARGET_COSINE_GAP = 1e-3
TARGET_GRADE_RATIO = 2.5
TARGET_PROMPT_TOKENS = 2500


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mb(kilobytes: float) -> float:
    return kilobytes / 1024.0  # Linux reports ru_maxrss in KiB


def self_peak_mb() -> float:
    return round(mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), 1)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in 0..100."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


# --- subprocesses -------------------------------------------------------------------------------


@dataclass
class Run:
    argv: list[str]
    wall: float
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float
    timed_out: bool = False

    def check(self) -> Run:
        if self.timed_out or self.returncode != 0:
            tail = (self.stderr.strip().splitlines() or self.stdout.strip().splitlines() or [""])[
                -1
            ]
            what = "timed out" if self.timed_out else f"exit {self.returncode}"
            raise RuntimeError(f"{' '.join(self.argv[:4])}: {what}: {tail[:300]}")
        return self


def run(argv: list[str], env: dict, timeout: float | None = None) -> Run:
    """Run one command; wall time from just before spawn to reaping, peak RSS from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed_out = threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT
        )
        timer = None
        if timeout:

            def kill() -> None:
                timed_out.set()
                proc.kill()

            timer = threading.Timer(timeout, kill)
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            argv=argv,
            wall=wall,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_mb=round(mb(usage.ru_maxrss), 1),
            timed_out=timed_out.is_set(),
        )


def worker(name: str, params: dict, env: dict, timeout: float | None = None) -> dict:
    """Run this file as `--worker NAME` in a fresh interpreter; it prints one JSON line."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", name, json.dumps(params)]
    result = run(argv, env, timeout).check()
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"worker {name} printed no result: {result.stderr.strip()[-300:]}")
    data = json.loads(lines[-1])
    data["_wall"] = result.wall
    return data


def coach_cmd(*args: str) -> list[str]:
    return [str(BIN / "coach"), *args]


def python_cmd(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def clean_env(home: Path, scratch: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("OPENAI_", "COACH_")) and not k.upper().startswith("CHROMA_")
    }
    env["COACH_HOME"] = str(home)
    env["COACH_ENV_FILE"] = str(scratch / "no-such.env")
    env["ANONYMIZED_TELEMETRY"] = "False"
    env["COLUMNS"] = "160"
    return env


def timed_series(commands: dict[str, list[str]], env: dict, repeats: int) -> dict[str, list[Run]]:
    """Each command `repeats` times, interleaved (so load drift hits all alike), after a warm-up."""
    for argv in commands.values():
        run(argv, env).check()  # warm the page cache; not counted
    runs: dict[str, list[Run]] = {k: [] for k in commands}
    for _ in range(repeats):
        for key, argv in commands.items():
            runs[key].append(run(argv, env).check())
    return runs


def med(runs: list[Run]) -> float:
    return statistics.median(r.wall for r in runs)


def peak(runs: list[Run]) -> float:
    return max(r.peak_mb for r in runs)


# --- fixtures -----------------------------------------------------------------------------------

SUBJECTS = """the ranking model|our two-tower retriever|a gradient-boosted ranker|the click-through
predictor|position bias|the feature store|an online A/B test|the fraud classifier|the user embedding
table|cold-start sellers|the LLM grader|inverse propensity weighting|the diffusion model|a shallow
bias tower|the candidate generator|the push-notification policy|the offline evaluation|catalogue
descriptions|the recall stage|an interleaving experiment|the popularity prior|KV-cache reuse|the
tokenizer|a naïve baseline|the reseller network""".replace("\n", " ").split("|")
VERBS = """reduces|amplifies|depends on|is trained on|is evaluated with|overfits to|drifts away
from|is calibrated against|competes with|explains|cannot see|leaks into|is capped by|is retrained
on|undercounts|over-weights|was replaced by|is monitored through""".replace("\n", " ").split("|")
OBJECTS = """logged clicks|held-out NDCG@10|the examination probability|user histories from the last
30 days|a cosine threshold of 0.7|sellers with fewer than five orders|p95 latency under 50 ms|the
exploration budget|counterfactual estimates|labels from human raters|hard negatives|the 2-D grid
layout|randomized top-n swaps|GPU memory|a 3% lift in conversion|the café-category
traffic|duplicate listings|the embedding drift alert|rare languages such as Telugu and
Marathi""".replace("\n", " ").split("|")
JOINERS = ["because", "although", "so", "while", "and therefore", "whereas", "unless", "but", "and"]


def make_sentences(count: int, seed: int = 20240611) -> list[str]:
    """Deterministic, varied ML-flavoured sentences of 8 to 60 words."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        target = rng.randint(8, 60)
        words: list[str] = []
        while len(words) < target:
            clause = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
            if rng.random() < 0.3:
                clause += (
                    f" in {rng.randint(2, 97)}% of {rng.choice(['sessions', 'queries', 'users'])}"
                )
            if words:
                words.append(rng.choice(JOINERS))
            words.extend(clause.split())
        text = " ".join(words[:target]).rstrip(",")
        out.append(text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!"]))
    return out


ANSWER_TEXT = """
Position bias means that the slot an item is shown in drives clicks regardless of how relevant
the item is, so the top two rows of the feed collect a large share of taps.
If I train the next ranker naively on those logged clicks, it learns to reproduce the old
ranking, and that creates a feedback loop where the same items stay on top.
I would model it with the examination hypothesis: the probability of a click is the probability
that the position is examined times the probability that the item is relevant.
To estimate the position propensities I would run a small randomization slice, for example
swapping adjacent pairs in the top ten for one percent of traffic, or use intervention
harvesting across past ranker versions so we do not pay for randomization.
During training I would correct with inverse propensity weighting of clicks, clipped so the
variance stays manageable, or add a shallow bias tower that takes position and device as input
and is dropped at inference.
On a grid feed the position is two-dimensional, row and column, and it differs by device, so I
would estimate propensities per layout rather than per rank.
For evaluation I would not trust click-based offline NDCG alone because it has the same bias; I
would use interleaving and an online A/B test, and counterfactual estimators offline.
The trade-offs are that randomization costs some revenue, inverse propensity weighting adds
variance, and a bias tower can absorb real relevance signal if it is too expressive.
I would monitor the learned propensity curve over time, because a new layout or a change in the
app changes how far users scroll and the old estimates go stale.
In my last project we saw a four percent lift in conversion after adding the bias tower, and the
long-tail sellers gained impressions because the model stopped favouring old winners.
"""


def answer_of(words: int) -> str:
    """A plausible answer to the position-bias question, exactly `words` words long."""
    tokens: list[str] = []
    while len(tokens) < words:
        tokens.extend(ANSWER_TEXT.split())
    text = " ".join(tokens[:words])
    return text.rstrip(".,;:") + "."


def chroma_model_files() -> list[str]:
    """The file names Chroma's ONNXMiniLM_L6_V2 requires, read from its installed source."""
    spec = importlib.util.find_spec("chromadb")
    source = Path(next(iter(spec.submodule_search_locations))) / (
        "utils/embedding_functions/onnx_mini_lm_l6_v2.py"
    )
    text = source.read_text(encoding="utf-8")
    block = re.search(r"onnx_files = \[(.*?)\]", text, re.DOTALL)
    names = re.findall(r'"([\w.-]+)"', block.group(1)) if block else []
    loaded = re.findall(r'EXTRACTED_FOLDER_NAME, "([\w.-]+)"', text)
    return sorted(set(names) | set(loaded)) or [
        "config.json",
        "model.onnx",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]


def prepare_chroma_model_dir(scratch: Path) -> tuple[Path, list[str]]:
    """DOWNLOAD_PATH for Chroma's embedding function, filled from coach.search.embeddings.minilm_files().

    Chroma loads only model.onnx and tokenizer.json; it checks that the other files exist before
    deciding not to download. Those are written from tokenizer.json (vocab.txt, special tokens,
    lower-casing) or as labelled placeholders; the vectors cannot depend on them.
    """
    from coach.search.embeddings import minilm_files

    model, tokenizer = minilm_files()
    root = scratch / "chroma-onnx" / "all-MiniLM-L6-v2"
    folder = root / "onnx"
    folder.mkdir(parents=True)
    spec = json.loads(tokenizer.read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    special = {t["content"] for t in spec.get("added_tokens", []) if t.get("special")}
    notes = []
    for name in chroma_model_files():
        target = folder / name
        if name == "model.onnx":
            target.symlink_to(model)
            notes.append(f"{name}: symlink to {model}")
        elif name == "tokenizer.json":
            target.symlink_to(tokenizer)
            notes.append(f"{name}: symlink to {tokenizer}")
        elif name == "vocab.txt":
            ordered = sorted(vocab, key=vocab.get)
            target.write_text("\n".join(ordered) + "\n", encoding="utf-8")
            notes.append(f"{name}: written from tokenizer.json ({len(ordered)} entries)")
        elif name == "special_tokens_map.json":
            keys = {"[UNK]": "unk_token", "[SEP]": "sep_token", "[PAD]": "pad_token"}
            keys |= {"[CLS]": "cls_token", "[MASK]": "mask_token"}
            mapping = {keys[t]: t for t in sorted(special) if t in keys}
            target.write_text(json.dumps(mapping, indent=1), encoding="utf-8")
            notes.append(f"{name}: written from tokenizer.json's special tokens")
        elif name == "tokenizer_config.json":
            lower = bool((spec.get("normalizer") or {}).get("lowercase", True))
            config = {"do_lower_case": lower, "model_max_length": 256}
            target.write_text(json.dumps(config, indent=1), encoding="utf-8")
            notes.append(f"{name}: written from tokenizer.json's normalizer")
        else:
            placeholder = {
                "_note": "placeholder written by bench/run.py; Chroma only checks it exists"
            }
            target.write_text(json.dumps(placeholder), encoding="utf-8")
            notes.append(f"{name}: placeholder (existence-checked only)")
    return root, notes


# --- workers (each runs in its own fresh interpreter) ------------------------------------------


def worker_embed(params: dict) -> dict:
    import numpy as np

    sentences = json.loads(Path(params["sentences"]).read_text(encoding="utf-8"))
    started = time.perf_counter()
    if params["which"] == "coach":
        from coach.search.embeddings import MiniLMEmbedder

        embedder = MiniLMEmbedder()

        def embed(texts):
            return embedder.embed(texts)
    else:
        from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

        function = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
        function.DOWNLOAD_PATH = Path(params["model_root"])

        def refuse(*args, **kwargs):
            raise RuntimeError("Chroma tried to download its model; the bench must stay offline")

        function._download = refuse
        function.model, function.tokenizer  # noqa: B018 - load the session and tokenizer now

        def embed(texts):
            return np.array(function(texts), dtype=np.float32)

    load = time.perf_counter() - started
    embed(sentences[:8])  # warm-up, not timed
    started = time.perf_counter()
    vectors = embed(sentences)
    seconds = time.perf_counter() - started
    np.save(params["out"], vectors)
    downloaded = params["which"] == "chroma" and any(Path(params["model_root"]).glob("*.tar.gz"))
    return {
        "load_seconds": load,
        "seconds": seconds,
        "count": len(sentences),
        "shape": list(vectors.shape),
        "downloaded": downloaded,
        "peak_mb": self_peak_mb(),
    }


def worker_retrieval(params: dict) -> dict:
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    n, batch, queries = params["n"], params["batch"], params["queries"]
    rng = np.random.default_rng(n)

    def unit(rows: int) -> np.ndarray:
        v = rng.standard_normal((rows, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    started = time.perf_counter()
    client = chromadb.PersistentClient(
        path=params["path"], settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.create_collection(
        "notes-bench", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    kept = {}
    for start in range(0, n, batch):
        rows = min(batch, n - start)
        vectors = unit(rows)
        ids = [f"note-{(start + i) // 8}#section-{(start + i) % 8}" for i in range(rows)]
        collection.add(
            ids=ids,
            embeddings=vectors,
            documents=[
                f"Synthetic note {(start + i) // 8}: section {(start + i) % 8}\n"
                "A chunk of reference notes about ranking, bias and evaluation."
                for i in range(rows)
            ],
            metadatas=[
                {"note_id": f"note-{(start + i) // 8}", "section": str((start + i) % 8)}
                for i in range(rows)
            ],
        )
        if len(kept) < 20:
            kept.update(zip(ids[:4], vectors[:4]))
    build = time.perf_counter() - started
    count = collection.count()

    def query(vector) -> dict:
        return collection.query(
            query_embeddings=[vector.tolist()],
            n_results=5,
            include=["documents", "metadatas", "distances"],
        )

    for vector in unit(5):
        query(vector)  # warm-up, not timed
    latencies = []
    for vector in unit(queries):
        t = time.perf_counter()
        query(vector)
        latencies.append(time.perf_counter() - t)
    self_hits = sum(query(v)["ids"][0][0] == i for i, v in kept.items())
    return {
        "n": n,
        "count": count,
        "build_seconds": build,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "queries": queries,
        "self_hits": self_hits,
        "self_checks": len(kept),
        "peak_mb": self_peak_mb(),
    }


def worker_grade(params: dict) -> dict:
    from coach.app import Coach

    coach = Coach()
    started = time.perf_counter()
    rubric = coach.rubric(QUESTION_ID)
    rubric_seconds = time.perf_counter() - started
    answer = params["answer"]
    started = time.perf_counter()
    first = coach.grade_rubric(rubric, answer, "offline")
    first_seconds = time.perf_counter() - started
    latencies = []
    scores = set()
    for _ in range(params["runs"]):
        t = time.perf_counter()
        grade = coach.grade_rubric(rubric, answer, "offline")
        latencies.append(time.perf_counter() - t)
        scores.add(grade.score)
    return {
        "rubric_seconds": rubric_seconds,
        "first_seconds": first_seconds,
        "median": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "runs": len(latencies),
        "score": first.score,
        "deterministic": scores == {first.score},
        "criteria": len(rubric.criteria),
        "peak_mb": self_peak_mb(),
    }


def worker_prompt(params: dict) -> dict:
    from coach.app import Coach
    from coach.grading.llm import format_rubric, grade_messages

    coach = Coach()
    rubric = coach.rubric(QUESTION_ID)
    answer = params["answer"]
    excerpt = coach.notes_excerpt(rubric)
    messages = grade_messages(rubric, answer, excerpt)
    chars = {role: len(text) for role, text in messages}
    return {
        "messages": len(messages),
        "chars": chars,
        "total_chars": sum(chars.values()),
        "answer_chars": len(answer),
        "answer_words": len(answer.split()),
        "notes_chars": len(excerpt),
        "rubric_chars": len(format_rubric(rubric)),
        "question_chars": len(rubric.question),
        "peak_mb": self_peak_mb(),
    }


WORKERS = {
    "embed": worker_embed,
    "retrieval": worker_retrieval,
    "grade": worker_grade,
    "prompt": worker_prompt,
}


# --- sections -----------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**MISSED**"


def s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


class Bench:
    def __init__(self, args):
        self.args = args
        self.started = time.perf_counter()
        self.scratch = Path(tempfile.mkdtemp(prefix="coach-bench-"))
        self.home = self.scratch / "home"  # COACH_HOME ingested in section 3, reused after it
        self.home.mkdir()
        self.env = clean_env(self.home, self.scratch)
        self.answer = answer_of(250)
        self.answer_file = self.scratch / "answer.txt"
        self.answer_file.write_text(self.answer, encoding="utf-8")
        self.ingested = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def env_for(self, home: Path) -> dict:
        return clean_env(home, self.scratch)

    def ensure_ingested(self) -> None:
        if not self.ingested:
            run(coach_cmd("ingest"), self.env).check()
            self.ingested = True

    # 1 -----------------------------------------------------------------------------------------
    def startup(self) -> str:
        repeats = self.args.repeats
        home = self.scratch / "home-startup"
        home.mkdir()
        runs = timed_series(
            {
                "`coach --help`": coach_cmd("--help"),
                '`python -c "import typer"`': python_cmd("import typer"),
                "`coach config`": coach_cmd("config"),
            },
            self.env_for(home),
            repeats,
        )
        rows = [
            [
                name,
                s(med(r)),
                s(min(x.wall for x in r)),
                s(max(x.wall for x in r)),
                f"{peak(r):.1f}",
            ]
            for name, r in runs.items()
        ]
        help_runs, typer_runs, config_runs = runs.values()
        ratio = med(help_runs) / med(typer_runs)
        config_ratio = med(config_runs) / med(typer_runs)
        summary = table(
            ["ratio", "value", "target", "result"],
            [
                [
                    "`coach --help` / `import typer`",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_STARTUP_RATIO}x",
                    verdict(ratio <= TARGET_STARTUP_RATIO),
                ],
                ["`coach config` / `import typer`", f"{config_ratio:.2f}x", "-", "-"],
            ],
        )
        head = ["command", f"median of {repeats}", "min", "max", "peak RSS MB"]
        return table(head, rows) + "\n\n" + summary

    # 2 -----------------------------------------------------------------------------------------
    def embeddings(self) -> str:
        import numpy as np

        count = self.args.sentences
        sentences = make_sentences(count)
        path = self.scratch / "sentences.json"
        path.write_text(json.dumps(sentences), encoding="utf-8")
        model_root, file_notes = prepare_chroma_model_dir(self.scratch)
        results = {}
        for which in ("coach", "chroma"):
            log(f"  embedding {count} sentences with {which}")
            out = self.scratch / f"vectors-{which}.npy"
            results[which] = worker(
                "embed",
                {
                    "which": which,
                    "sentences": str(path),
                    "out": str(out),
                    "model_root": str(model_root),
                },
                self.env,
            )
            results[which]["vectors"] = np.load(out)
        a, b = results["coach"]["vectors"], results["chroma"]["vectors"]
        cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        max_abs = float(np.abs(a - b).max())
        gap = float(1.0 - cosine.min())
        rate = {k: v["count"] / v["seconds"] for k, v in results.items()}
        speedup = rate["coach"] / rate["chroma"]
        words = [len(t.split()) for t in sentences]
        rows = [
            [
                "coach `MiniLMEmbedder` (pads to batch longest, length-sorted)",
                f"{rate['coach']:.1f}",
                s(results["coach"]["seconds"]),
                s(results["coach"]["load_seconds"]),
                f"{results['coach']['peak_mb']:.1f}",
            ],
            [
                "Chroma `ONNXMiniLM_L6_V2` (pads every input to 256 tokens)",
                f"{rate['chroma']:.1f}",
                s(results["chroma"]["seconds"]),
                s(results["chroma"]["load_seconds"]),
                f"{results['chroma']['peak_mb']:.1f}",
            ],
        ]
        summary = [
            [
                "speed-up (coach / Chroma)",
                f"{speedup:.2f}x",
                f">= {TARGET_EMBED_SPEEDUP:g}x",
                verdict(speedup >= TARGET_EMBED_SPEEDUP),
            ],
            [
                "min cosine similarity (per sentence)",
                f"{cosine.min():.6f}",
                f">= {1 - TARGET_COSINE_GAP:g}",
                verdict(gap <= TARGET_COSINE_GAP),
            ],
            ["mean cosine similarity", f"{cosine.mean():.6f}", "-", "-"],
            ["max abs difference (any component)", f"{max_abs:.2e}", "-", "-"],
            [
                "Chroma downloaded anything",
                "yes" if results["chroma"]["downloaded"] else "no",
                "no",
                verdict(not results["chroma"]["downloaded"]),
            ],
        ]
        head = ["embedder", "sentences/s", "embed wall", "model load", "peak RSS MB"]
        text = (
            f"{count} deterministic synthetic sentences, {min(words)}-{max(words)} words "
            f"(mean {statistics.mean(words):.1f}); same model files for both "
            "(int8 all-MiniLM-L6-v2 from `coach.search.embeddings.minilm_files()`), "
            "CPUExecutionProvider, one warm-up call of "
            "8 sentences excluded. Each embedder in its own process.\n\n"
        )
        text += (
            table(head, rows) + "\n\n" + table(["comparison", "value", "target", "result"], summary)
        )
        text += "\n\nChroma's model directory (`DOWNLOAD_PATH` set on the instance):\n"
        text += "".join(f"\n- {note}" for note in file_notes)
        return text

    # 3 -----------------------------------------------------------------------------------------
    def ingest(self) -> str:
        rows = []
        pattern = re.compile(
            r"^(\w+)\s+(\d+) embedded\s+(\d+) deleted\s+(\d+) unchanged", re.MULTILINE
        )
        warm_embedded, cold_wall = None, None
        for label in ("cold (empty COACH_HOME)", "warm (second run)"):
            result = run(coach_cmd("ingest"), self.env).check()
            counts = {
                m[0]: (int(m[1]), int(m[2]), int(m[3])) for m in pattern.findall(result.stdout)
            }
            if not counts:
                raise RuntimeError(f"cannot parse `coach ingest` output: {result.stdout[:200]!r}")
            embedded = sum(c[0] for c in counts.values())
            detail = ", ".join(
                f"{k}: {a} embedded / {d} deleted / {u} unchanged"
                for k, (a, d, u) in counts.items()
            )
            rows.append([label, s(result.wall), embedded, detail, f"{result.peak_mb:.1f}"])
            warm_embedded = embedded
            cold_wall = cold_wall or result.wall
        self.ingested = True
        cold_docs = rows[0][2]
        text = table(["run", "wall", "embedded", "per collection", "peak RSS MB"], rows)
        text += "\n\n" + table(
            ["check", "value", "target", "result"],
            [
                [
                    "documents embedded by the warm run",
                    warm_embedded,
                    "0",
                    verdict(warm_embedded == 0),
                ],
                [
                    "cold ingest documents/s (whole command)",
                    f"{cold_docs / cold_wall:.1f}",
                    "-",
                    "-",
                ],
            ],
        )
        return text

    # 4 -----------------------------------------------------------------------------------------
    def retrieval(self) -> str:
        rows = []
        for n in self.args.sizes:
            log(f"  retrieval at {n:,} chunks")
            path = self.scratch / f"chroma-{n}"
            data = worker(
                "retrieval",
                {"n": n, "batch": 5000, "queries": self.args.queries, "path": str(path)},
                self.env,
            )
            rows.append(
                [
                    f"{n:,}",
                    f"{data['count']:,}",
                    s(data["build_seconds"]),
                    f"{n / data['build_seconds']:,.0f}",
                    ms(data["p50"]),
                    ms(data["p95"]),
                    f"{data['self_hits']}/{data['self_checks']}",
                    f"{data['peak_mb']:.1f}",
                ]
            )
        head = [
            "chunks",
            "count()",
            "build (client + inserts)",
            "inserts/s",
            "query p50",
            "query p95",
            "self-hit top-1",
            "peak RSS MB",
        ]
        note = (
            "Synthetic chunks: **random unit vectors of dimension 384** (not real embeddings), "
            "with a short document and two metadata fields each, added in batches of 5,000 to a "
            "fresh embedded `chromadb.PersistentClient` in a temp dir, cosine space, no embedding "
            f"function. Latency: {self.args.queries} calls of `collection.query` with one query "
            "embedding, `n_results=5`, documents+metadatas+distances included (as the coach asks), "
            "after 5 untimed warm-up queries. Self-hit: a stored vector queried back returns "
            "itself first. Each size in its own process.\n\n"
        )
        return note + table(head, rows)

    # 5 -----------------------------------------------------------------------------------------
    def grading(self) -> str:
        self.ensure_ingested()
        data = worker("grade", {"answer": self.answer, "runs": self.args.grade_runs}, self.env)
        warm = table(
            ["measurement", "value"],
            [
                ["answer length", f"{len(self.answer.split())} words"],
                ["rubric criteria", data["criteria"]],
                ["`Coach().rubric(...)` (first call in process)", s(data["rubric_seconds"])],
                ["first grade in process (loads the ONNX session)", s(data["first_seconds"])],
                [f"median of {data['runs']} warm grades", ms(data["median"])],
                [f"p95 of {data['runs']} warm grades", ms(data["p95"])],
                ["score / same score every run", f"{data['score']} / {data['deterministic']}"],
                ["peak RSS MB (worker)", f"{data['peak_mb']:.1f}"],
            ],
        )
        grade_cmd = coach_cmd(
            "grade", QUESTION_ID, "--answer-file", str(self.answer_file), "--grader", "offline"
        )
        runs = timed_series(
            {"grade": grade_cmd, "chromadb": python_cmd("import chromadb")},
            self.env,
            self.args.e2e_repeats,
        )
        ratio = med(runs["grade"]) / med(runs["chromadb"])
        n = self.args.e2e_repeats
        e2e = table(
            ["command (fresh process)", f"median of {n}", "min", "max", "peak RSS MB"],
            [
                [
                    f"`coach grade {QUESTION_ID} --answer-file FILE --grader offline`",
                    s(med(runs["grade"])),
                    s(min(r.wall for r in runs["grade"])),
                    s(max(r.wall for r in runs["grade"])),
                    f"{peak(runs['grade']):.1f}",
                ],
                [
                    '`python -c "import chromadb"`',
                    s(med(runs["chromadb"])),
                    s(min(r.wall for r in runs["chromadb"])),
                    s(max(r.wall for r in runs["chromadb"])),
                    f"{peak(runs['chromadb']):.1f}",
                ],
            ],
        )
        e2e += "\n\n" + table(
            ["ratio", "value", "target", "result"],
            [
                [
                    "`coach grade` / `import chromadb`",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_GRADE_RATIO}x",
                    verdict(ratio <= TARGET_GRADE_RATIO),
                ],
            ],
        )
        return (
            'Warm process: `Coach().grade_rubric(rubric, answer, "offline")` with the rubric of '
            f"`{QUESTION_ID}` after `coach ingest`.\n\n" + warm + "\n\nEnd to end:\n\n" + e2e
        )

    # 6 -----------------------------------------------------------------------------------------
    def evaluation(self) -> str:
        with CALIBRATION.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            records = list(reader)
        synthetic = self.scratch / "synthetic.csv"
        with synthetic.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            for i in range(self.args.eval_rows):
                writer.writerow(records[i % len(records)])
        home = self.scratch / "home-eval"
        home.mkdir()
        env = self.env_for(home)
        cap = self.args.eval_timeout
        rows, checks = [], []
        calibration_rate = None
        jobs = (
            ("calibration.csv", CALIBRATION, len(records), None),
            (
                f"synthetic: calibration rows repeated to {self.args.eval_rows:,}",
                synthetic,
                self.args.eval_rows,
                cap if cap > 0 else None,
            ),
        )
        for label, path, count, timeout in jobs:
            if timeout:
                log(f"  {count} rows, stopped after {timeout:g} s if not done")
            result = run(coach_cmd("eval", str(path), "--json"), env, timeout)
            if result.timed_out:
                projected = count / calibration_rate if calibration_rate else float("nan")
                rows.append(
                    [
                        label,
                        count,
                        f"> {result.wall:.0f} s (stopped at the cap)",
                        "-",
                        f"< {count / result.wall:.1f}",
                        f"not finished; {projected:.0f} s projected at the calibration rate",
                        f"{result.peak_mb:.1f}",
                    ]
                )
                checks.append(
                    [f"{label}: wall", f"> {result.wall:.0f} s", f"<= {cap:g} s", verdict(False)]
                )
                continue
            result.check()
            metrics = json.loads(result.stdout[result.stdout.index("{") :])
            rate = count / result.wall
            calibration_rate = calibration_rate or rate
            rows.append(
                [
                    label,
                    count,
                    s(result.wall),
                    s(metrics["wall_seconds"]),
                    f"{rate:.1f}",
                    (
                        f"{metrics['rows_per_second']} (n={metrics['n']}, Pearson "
                        f"{metrics['pearson']:.3f}, QWK {metrics['qwk']:.3f})"
                    ),
                    f"{result.peak_mb:.1f}",
                ]
            )
            if path == synthetic and cap > 0:
                checks.append([f"{label}: wall", s(result.wall), f"<= {cap:g} s", verdict(True)])
        head = [
            "CSV",
            "rows",
            "wall (whole command)",
            "grading (coach's `wall_seconds`)",
            "rows/s (whole command)",
            "coach's `rows_per_second`, agreement",
            "peak RSS MB",
        ]
        note = (
            "`coach eval FILE --json` (offline grader) in a fresh process with an empty "
            "COACH_HOME. Target for the synthetic file: a few minutes, checked as "
            f"<= {cap:g} s; the run is stopped there so the bench stays bounded "
            "(`--eval-timeout 0` lets it finish).\n\n"
            if cap > 0
            else "`coach eval FILE --json` (offline grader) in a fresh process with an empty "
            "COACH_HOME. Target for the synthetic file: a few minutes.\n\n"
        )
        text = note + table(head, rows)
        if checks:
            text += "\n\n" + table(["check", "value", "target", "result"], checks)
        return text

    # 7 -----------------------------------------------------------------------------------------
    def voice(self) -> str:
        """bench/voice.py (the settings grid left out: `python bench/voice.py` prints it), in a
        subprocess so its model load is cold and its threads do not disturb the other sections."""
        done = run(
            [sys.executable, str(Path(__file__).with_name("voice.py")), "--quick"],
            os.environ.copy(),
        )
        return done.check().stdout

    def prompt(self) -> str:
        self.ensure_ingested()
        data = worker("prompt", {"answer": self.answer}, self.env)
        tokens = data["total_chars"] / 4
        rows = [[f"{role} message", c, f"{c / 4:.0f}"] for role, c in data["chars"].items()]
        rows += [
            ["total (all messages)", data["total_chars"], f"**{tokens:.0f}**"],
            [f"of which: the answer ({data['answer_words']} words)", data["answer_chars"], ""],
            ["of which: notes excerpt", data["notes_chars"], ""],
            ["of which: rubric lines", data["rubric_chars"], ""],
            ["of which: question", data["question_chars"], ""],
        ]
        text = (
            "`grade_messages(rubric, answer, "
            f"coach.notes_excerpt(rubric))` for `{QUESTION_ID}`. **Tokens are estimated as "
            "characters / 4**, not counted with a tokenizer. The parts overlap the messages "
            "(they are inside the user message).\n\n"
        )
        text += table(["part", "characters", "tokens (chars/4)"], rows)
        text += "\n\n" + table(
            ["check", "value", "target", "result"],
            [
                [
                    "prompt tokens (chars/4)",
                    f"{tokens:.0f}",
                    f"< {TARGET_PROMPT_TOKENS:,}",
                    verdict(tokens < TARGET_PROMPT_TOKENS),
                ]
            ],
        )
        return text


SECTIONS = [
    ("1", "Start-up", "startup"),
    ("2", "Embedding throughput: coach vs Chroma's ONNX MiniLM", "embeddings"),
    ("3", "Ingest of the shipped corpus", "ingest"),
    ("4", "Retrieval latency in embedded Chroma", "retrieval"),
    ("5", "Offline grade latency", "grading"),
    ("6", "`coach eval` throughput", "evaluation"),
    ("7", "Prompt size of one LLM grade", "prompt"),
    ("8", "Speaking an answer: transcription and the wait for the grade", "voice"),
]
# Run order: ingest first (the sections after it reuse the store); the longest one last.
RUN_ORDER = ["1", "3", "2", "4", "5", "7", "8", "6"]


def machine_facts(load_start, load_end, total: float) -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    rows = [
        ["CPU count", f"{os.cpu_count()} (usable by this process: {affinity})"],
        ["CPU model (/proc/cpuinfo)", model],
        ["Python", f"{platform.python_version()} ({platform.python_implementation()})"],
        ["onnxruntime", importlib.metadata.version("onnxruntime")],
        ["chromadb", importlib.metadata.version("chromadb")],
        ["date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")],
        ["platform", platform.platform()],
        ["load average at start / end (1 min)", f"{load_start[0]:.2f} / {load_end[0]:.2f}"],
        ["whole bench wall time", s(total)],
    ]
    return table(["fact", "value"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("params", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown file to write")
    parser.add_argument("--only", default="", help="comma-separated section numbers, e.g. 1,4")
    parser.add_argument(
        "--eval-timeout", type=float, default=180, help="cap on the synthetic eval (0 = none)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="start-up runs per command")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")], default=None)
    parser.add_argument("--queries", type=int, default=200, help="timed queries per size")
    parser.add_argument("--grade-runs", type=int, default=30)
    parser.add_argument("--e2e-repeats", type=int, default=3)
    parser.add_argument("--eval-rows", type=int, default=2500)
    args = parser.parse_args()

    if args.worker:
        result = WORKERS[args.worker](json.loads(args.params))
        print(json.dumps(result, default=float))
        return 0

    args.sizes = args.sizes or [1_000, 10_000, 100_000]
    wanted = set(args.only.split(",")) - {""} or {number for number, _, _ in SECTIONS}
    bench = Bench(args)
    try:
        return measure(args, wanted, bench)
    finally:
        shutil.rmtree(bench.scratch, ignore_errors=True)


def measure(args, wanted: set[str], bench: Bench) -> int:
    load_start = os.getloadavg()
    log(f"scratch directory {bench.scratch}")
    bodies: dict[str, str] = {}
    failures = 0
    for number in RUN_ORDER:
        if number not in wanted:
            continue
        _, title, method = next(section for section in SECTIONS if section[0] == number)
        log(f"section {number}: {title} (at {bench.elapsed():.0f} s)")
        try:
            bodies[number] = getattr(bench, method)()
        except Exception as exc:  # noqa: BLE001 - report it in the results, measure the rest
            failures += 1
            bodies[number] = f"**FAILED**: {type(exc).__name__}: {exc}"
            log(f"section {number} failed: {exc}")
    total = bench.elapsed()
    parts = [
        "# coach benchmarks",
        "",
        (
            "Written by `bench/run.py` (`make bench`). Every figure below was measured in this "
            "run (nothing is carried over). Peak RSS is `ru_maxrss` of the fresh process that "
            "did the work. No network: OPENAI_*/COACH_* unset, temporary COACH_HOME, "
            "no `.env` read."
        ),
        "",
        machine_facts(load_start, os.getloadavg(), total),
    ]
    for number, title, _ in SECTIONS:
        if number in bodies:
            parts += ["", f"## {number}. {title}", "", bodies[number]]
    markdown = "\n".join(parts) + "\n"
    args.out.write_text(markdown, encoding="utf-8")
    print(markdown)
    log(f"wrote {args.out} in {total:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
