"""dbt's block syntax that is not Jinja, handled with regular expressions (no jinja2 import):
`{% test %}` / `{% data_test %}` are macros named test_<x>, `{% docs %}` blocks are
documentation, custom materializations are skipped.
"""

from __future__ import annotations

import re

_TEST_OPEN = re.compile(r"{%(-?)\s*test\s+(\w+)\s*\(")
_TEST_CLOSE = re.compile(r"{%(-?)\s*endtest\s*(-?)%}")
_DATA_TEST_OPEN = re.compile(r"{%(-?)\s*data_test\s+(\w+)\s*\(")
_DATA_TEST_CLOSE = re.compile(r"{%(-?)\s*enddata_test\s*(-?)%}")
_MATERIALIZATION = re.compile(r"{%-?\s*materialization\b.*?{%-?\s*endmaterialization\s*-?%}", re.S)
_DOCS = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)


def rewrite_blocks(source: str) -> str:
    """dbt's `{% test x(...) %}` is a macro named test_x; custom materializations are skipped."""
    source = _TEST_OPEN.sub(r"{%\1 macro test_\2(", source)
    source = _TEST_CLOSE.sub(r"{%\1 endmacro \2%}", source)
    source = _DATA_TEST_OPEN.sub(r"{%\1 macro test_\2(", source)
    source = _DATA_TEST_CLOSE.sub(r"{%\1 endmacro \2%}", source)
    source = _MATERIALIZATION.sub("", source)
    return _DOCS.sub("", source)


def extract_docs(source: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).strip()) for m in _DOCS.finditer(source)]
