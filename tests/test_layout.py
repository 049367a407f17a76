"""The engine's shape: no function or method in market/ longer than MAX_FUNCTION_LINES, counted
from its ``def`` line to its last line (docstring included, decorators not)."""

import ast
from pathlib import Path

MARKET = Path(__file__).resolve().parent.parent / "market"
MAX_FUNCTION_LINES = 60


def function_lengths(root: Path = MARKET) -> list[tuple[str, int]]:
    """Every function and method below ``root`` as (``path:line name``, lines)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(root.parent)}:{node.lineno} {node.name}"
                out.append((where, node.end_lineno - node.lineno + 1))
    return out


def test_every_module_is_read():
    names = {w.split(":")[0] for w, _ in function_lengths()}
    assert "market/model.py" in names and "market/sweep/runner.py" in names


def test_no_function_is_longer_than_the_limit():
    long = sorted(((n, w) for w, n in function_lengths() if n > MAX_FUNCTION_LINES), reverse=True)
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: " + ", ".join(f"{w} ({n})" for n, w in long)


def test_the_count_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\nclass C:\n    def g(self):\n        return 1\n")
    assert sorted(function_lengths(tmp_path)) == [(f"{tmp_path.name}/m.py:1 f", MAX_FUNCTION_LINES + 1),
                                                  (f"{tmp_path.name}/m.py:{MAX_FUNCTION_LINES + 5} g", 2)]
