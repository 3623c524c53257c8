"""docs/architecture.md's package table is a layer order: no package imports one listed after it."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _order() -> list[str]:
    table = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `avseq\.([a-z_]+)` \|", table, re.M)


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level avseq package) of every absolute import of avseq in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "avseq":
                found += [(node.lineno, a.name) for a in node.names]
            elif node.module.startswith("avseq."):
                found.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[1]) for a in node.names if a.name.startswith("avseq.")]
    return found


def test_every_package_is_in_the_table_and_imports_only_those_before_it():
    order = _order()
    rank = {name: i for i, name in enumerate(order)}
    unlisted, backward = set(), []
    for path in sorted((ROOT / "avseq").rglob("*.py")):
        own = path.relative_to(ROOT / "avseq").parts[0].removesuffix(".py")
        if own in ("__init__", "__main__"):
            continue
        if own not in rank:
            unlisted.add(own)
            continue
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if name in rank and rank[name] > rank[own]:
                backward.append(f"{path.relative_to(ROOT)}:{line} imports avseq.{name}")
    assert not unlisted, f"packages missing from docs/architecture.md's table: {sorted(unlisted)}"
    assert not backward, "imports of a package listed later:\n" + "\n".join(backward)
