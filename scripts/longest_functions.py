"""Print the longest functions of a source tree (ast line counts).

Usage: ``python scripts/longest_functions.py [SRC_DIR] [N]`` (defaults ``src``, 10).
A function's length is ``end_lineno - lineno + 1`` of its ``def`` node, decorators excluded;
nested functions and methods count on their own as well as inside their parent.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def function_lengths(root: Path) -> list[tuple[int, str]]:
    """Return ``(lines, "path:line name")`` for every function below ``root``."""
    rows: list[tuple[int, str]] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                rows.append((length, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(rows, key=lambda row: (-row[0], row[1]))


def main(argv: list[str]) -> int:
    """Print the ``N`` longest functions, one a line."""
    root = Path(argv[1]) if len(argv) > 1 else Path("src")
    count = int(argv[2]) if len(argv) > 2 else 10
    for length, where in function_lengths(root)[:count]:
        print(f"{length:5d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
