"""Columns as macros see them: dbt-adapters' Column (`adapter.get_columns_in_relation`,
`api.Column`). Adapters subclass it where dbt's adapter does (PostgresColumn, ...)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from dvt_engine.errors import CompilationError

# "character varying(20)", "NUMBER(38,0)": a base type and its sizes, nothing after them
# (a pattern string: re caches it on first use, no compile when no column is read)
_SIZED = r"^\s*([^(]+?)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$"


class Column:
    """dbt's Column: `column`, `dtype` and the sizes dbt's catalog query returns."""

    # translate_type's labels (audit_helper asks for "string")
    TYPE_LABELS: ClassVar[dict[str, str]] = {"STRING": "TEXT"}

    __slots__ = ("column", "dtype", "char_size", "numeric_precision", "numeric_scale",
                 "raw_type")

    def __init__(self, column: str, dtype: str, char_size: int | None = None,
                 numeric_precision: Any = None, numeric_scale: Any = None, *,
                 raw_type: str | None = None) -> None:
        self.column = column
        self.dtype = dtype
        self.char_size = char_size
        self.numeric_precision = numeric_precision
        self.numeric_scale = numeric_scale
        # the type as the database spells it, when dtype and the sizes are split from it
        self.raw_type = raw_type

    # -- construction -------------------------------------------------------------
    @classmethod
    def translate_type(cls, dtype: str) -> str:
        return cls.TYPE_LABELS.get(dtype.upper(), dtype)

    @classmethod
    def create(cls, name: str, label_or_dtype: str) -> Column:
        return cls(name, cls.translate_type(label_or_dtype))

    @classmethod
    def from_description(cls, name: str, raw_data_type: str) -> Column:
        """dbt's parse of "type(size)" / "type(precision,scale)"."""
        match = re.match(r"([^(]+)(\([^)]+\))?", raw_data_type)
        if match is None:
            raise CompilationError(f'Could not interpret data type "{raw_data_type}"')
        data_type, size_info = match.groups()
        char_size = precision = scale = None
        if size_info is not None:
            parts = size_info[1:-1].split(",")
            try:
                if len(parts) == 1:
                    char_size = int(parts[0])
                elif len(parts) == 2:
                    precision, scale = int(parts[0]), int(parts[1])
            except ValueError:
                raise CompilationError(
                    f'Could not interpret data_type "{raw_data_type}": could not convert '
                    f'"{size_info[1:-1]}" to integers') from None
        return cls(name, data_type, char_size, precision, scale)

    @classmethod
    def described(cls, name: str, text: str) -> Column:
        """A column from its type as the database spells it ('character varying(20)',
        'NUMBER(38,0)'): the sizes of string and numeric types split off as dbt's
        catalog columns carry them, any other type (timestamp(3) with time zone) kept
        whole. `native_type` keeps the text for DDL."""
        m = re.match(_SIZED, text)
        if m is not None:
            base = cls(name, m.group(1))
            if base.is_string():
                return cls(name, m.group(1), int(m.group(2)), raw_type=text)
            if base.is_numeric():
                return cls(name, m.group(1), None, int(m.group(2)), int(m.group(3) or 0),
                           raw_type=text)
        return cls(name, text, raw_type=text)

    # -- reading ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.column

    @property
    def quoted(self) -> str:
        return f'"{self.column}"'

    @property
    def native_type(self) -> str:
        """The type for DDL and the catalog: as the database reported it (data_type is
        dbt's rendering of it, which may differ: DuckDB's VARCHAR reads as
        character varying(256))."""
        return self.raw_type or self.dtype

    @property
    def data_type(self) -> str:
        if self.is_string():
            return self.string_type(self.string_size())
        if self.is_numeric():
            return self.numeric_type(self.dtype, self.numeric_precision, self.numeric_scale)
        return self.dtype

    @property
    def expanded_data_type(self) -> str:
        return self.data_type

    def is_string(self) -> bool:
        return self.dtype.lower() in ("text", "character varying", "character", "varchar")

    def is_number(self) -> bool:
        return self.is_integer() or self.is_numeric() or self.is_float()

    def is_float(self) -> bool:
        return self.dtype.lower() in ("real", "float4", "float", "double precision", "float8",
                                      "double")

    def is_integer(self) -> bool:
        return self.dtype.lower() in ("smallint", "integer", "bigint", "smallserial", "serial",
                                      "bigserial", "int2", "int4", "int8", "serial2", "serial4",
                                      "serial8")

    def is_numeric(self) -> bool:
        return self.dtype.lower() in ("numeric", "decimal")

    def string_size(self) -> int:
        if not self.is_string():
            raise CompilationError("Called string_size() on non-string field!")
        if self.dtype == "text" or self.char_size is None:
            return 256  # dbt's size for a string without one
        return int(self.char_size)

    def can_expand_to(self, other_column: Column) -> bool:
        """True if this (string) column can widen to `other_column`'s size."""
        if not self.is_string() or not other_column.is_string():
            return False
        return other_column.string_size() > self.string_size()

    def literal(self, value: Any) -> str:
        return f"{value}::{self.data_type}"

    @classmethod
    def string_type(cls, size: int) -> str:
        return f"character varying({size})"

    @classmethod
    def numeric_type(cls, dtype: str, precision: Any, scale: Any) -> str:
        if precision is None or scale is None:
            return dtype
        return f"{dtype}({precision},{scale})"

    def _key(self) -> tuple[Any, ...]:
        return (self.column, self.dtype, self.char_size, self.numeric_precision,
                self.numeric_scale)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Column) and type(self) is type(other) and \
            self._key() == other._key()

    def __repr__(self) -> str:  # as dbt's dataclass prints in {{ column }}
        return (f"{type(self).__name__}(column={self.column!r}, dtype={self.dtype!r}, "
                f"char_size={self.char_size!r}, numeric_precision={self.numeric_precision!r},"
                f" numeric_scale={self.numeric_scale!r})")
