"""Imports run one way: the game contract and outcomes -> text -> the built-in games (rules with their renderers) ->
loading and generation -> opponents -> env -> players and the tiny model -> curricula -> evaluation -> training ->
command line. A module may import its own layer or one below, never above (imports for type checking only are not
counted). README's development section maps the same layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The first prefix a module starts with gives its layer (most specific first).
LAYERS = [
    ("arena.errors", 0),
    ("arena.games.base", 1),
    ("arena.games.registry", 1),
    ("arena.rewards", 1),
    ("arena.outcome", 1),
    ("arena.text", 2),
    ("arena.games", 3),
    ("arena.models.catalog", 4),
    ("arena.models.loading", 4),
    ("arena.generation", 4),
    ("opponents", 5),
    ("arena.env", 6),
    ("arena.vector", 6),
    ("arena.batch", 6),
    ("arena.models", 7),
    ("arena.evaluation.players", 7),
    ("curricula", 8),
    ("arena.evaluation", 9),
    ("arena.training", 10),
    ("arena", 11),  # the package itself and its command line
]


def layer(module: str) -> int:
    for prefix, rank in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("arena", "opponents", "curricula"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def test_no_module_imports_a_layer_above_its_own():
    found = modules()
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, path in sorted(found.items())
        for target in sorted(imports(name, path, set(found)))
        if layer(target) > layer(name)
    ]
    assert upward == []


def test_the_layer_check_sees_a_late_import_and_skips_type_checking_ones(tmp_path):
    known = set(modules())
    probe = tmp_path / "base.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from arena.evaluation.players import Player\n"
        "def late():\n    from arena.env import TextGameEnv\n"
        "from .spec import ModelSpec\n"
    )
    assert imports("opponents.base", probe, known) == {"arena.env", "opponents.spec"}
    assert layer("arena.env") > layer("opponents.base")
