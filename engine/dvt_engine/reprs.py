"""One __repr__ for dataclasses that do without a generated one.

Every method a dataclass generates is compiled when its module is imported, and every CLI
run imports them all: classes with many fields, or many classes, use this instead.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def fields_repr(obj: Any) -> str:
    """`Name(field=value, ...)` of a dataclass instance."""
    body = ", ".join(f"{f.name}={getattr(obj, f.name)!r}" for f in fields(obj) if f.repr)
    return f"{type(obj).__name__}({body})"
