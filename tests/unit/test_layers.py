"""The package's folders are layers, and each imports only the layers below it.

Below everything: the shared values (domain types, states, errors, settings, logs, text and
id checks). Then the store (PostgreSQL), the platforms, scheduling (what goes into the
table), the engine, reporting, the operations a face calls, and the faces (CLI, hook, demo).
"""

from __future__ import annotations

import ast
from pathlib import Path

import studio_publish

PACKAGE = Path(studio_publish.__file__).resolve().parent

BASE = {
    "domain", "states", "errors", "settings", "logs", "redaction", "formatting",
    "terminal_text", "media_policy", "ids", "__init__",
}  # fmt: skip
LAYERS = [BASE, {"store"}, {"platforms"}, {"scheduling"}, {"engine"}, {"reporting"},
          {"accounts", "operations"}, {"hook", "demo", "sandbox"}, {"cli", "__main__"}]  # fmt: skip
# settings checks a DATABASE_URL with the store's libpq parser, the one that will read it.
ALLOWED_UPWARD = {("settings", "store")}


def rank(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imports(tree: ast.AST) -> list[tuple[int, str]]:
    """The studio_publish layers a module imports, leaving out `if TYPE_CHECKING:` blocks."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("studio_publish"):
            module = node.module or ""
            if module == "studio_publish":
                found.extend((node.lineno, alias.name) for alias in node.names)
            else:
                found.append((node.lineno, module.split(".")[1]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        rank(layer_of(path))  # StopIteration: add the new module or folder to LAYERS


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = layer_of(path)
        for line, target in imports(ast.parse(path.read_text(encoding="utf-8"))):
            if target == source or (source, target) in ALLOWED_UPWARD:
                continue
            if rank(target) > rank(source):
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert upward == []
