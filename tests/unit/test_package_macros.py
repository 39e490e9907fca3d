"""What running the five pinned dbt packages against dbt 1.10 turned up (issue 10; the
whole comparison is tests/integration/test_dbt_packages.py)."""

from __future__ import annotations

import contextlib
import io
from typing import Any


def test_global_flags_may_come_before_the_command(project: Any) -> None:
    """`dbt --quiet run-operation codegen.generate_source ...`, as codegen's README has
    it: the flag before the command word is dbt's global flag, and print() still shows."""
    project.write("macros/hello.sql",
                  "{% macro hello(who) %}{{ print('hello ' ~ who) }}{% endmacro %}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run = project.dvt("--quiet", "run-operation", "hello", "--args", "{who: dbt}")
    assert run.exit_code == 0, run.output
    assert out.getvalue() == "hello dbt\n"
    assert "Running with" not in run.output
