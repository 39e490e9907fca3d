"""README.md's Python API example runs as written (on a copy of examples/demo)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python_api_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- python-api:[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert found, "README.md lost its Python API example"
    return found.group(1)


def test_readme_python_api_example_runs(tmp_path: Path, monkeypatch) -> None:
    demo = tmp_path / "examples" / "demo"
    shutil.copytree(ROOT / "examples" / "demo", demo,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", "*.db"))
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(_python_api_block(), "README.md", "exec"), scope)  # noqa: S102
    # what the example computed is real: the demo's models and rows
    assert "customers" in str(scope["models"]) and int(scope["n"]) > 0  # type: ignore[call-overload]
    assert str(scope["sql"]).lstrip().lower().startswith(("with", "select"))
