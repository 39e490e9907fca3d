"""run_query() results: an Arrow table with the agate-style API dbt macros use."""

from __future__ import annotations

from typing import Any


class ResultTable:
    """Wraps a pyarrow.Table: `.rows`, `.columns`, `.column_names`, `table[0][0]`."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def arrow(self) -> Any:
        return self._table

    @property
    def column_names(self) -> list[str]:
        return list(self._table.column_names)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            cols = [c.to_pylist() for c in self._table.columns]
            self._rows = [Row(self.column_names, vals) for vals in zip(*cols, strict=False)]
        return self._rows

    @property
    def columns(self) -> Columns:
        """agate's MappedSequence: `columns[0]` and `columns['name']` both work."""
        return Columns([ResultColumn(n, self._table.column(i).to_pylist())
                        for i, n in enumerate(self.column_names)])

    def __getitem__(self, i: int) -> Any:
        return self.rows[i]

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return self._table.num_rows

    def print_table(self, max_rows: int = 20, **_: Any) -> None:
        print(self._table.slice(0, max_rows).to_pandas().to_string())

    def to_pandas(self) -> Any:
        return self._table.to_pandas()


class Row(tuple):
    def __new__(cls, names: list[str], values: Any) -> Row:
        row = super().__new__(cls, values)
        row._names = names  # type: ignore[attr-defined]
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))  # type: ignore[attr-defined]
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)  # type: ignore[attr-defined]

    def values(self) -> tuple[Any, ...]:
        return tuple(self)

    def dict(self) -> dict[str, Any]:
        return dict(zip(self._names, self, strict=False))  # type: ignore[attr-defined]


class Columns(list):
    """Columns by position or by name; iterating yields the columns (as agate does)."""

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            for col in self:
                if col.name == key:
                    return col
            raise KeyError(key)
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return [c.name for c in self]

    def values(self) -> list[ResultColumn]:
        return list(self)

    def items(self) -> list[tuple[str, ResultColumn]]:
        return [(c.name, c) for c in self]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.keys() if isinstance(key, str) else super().__contains__(key)


class ResultColumn(list):
    def __init__(self, name: str, values: list[Any]) -> None:
        super().__init__(values)
        self.name = name

    def values(self) -> list[Any]:
        """agate's Column.values() is a method: `columns[0].values()`."""
        return list(self)

    def values_distinct(self) -> list[Any]:
        return list(dict.fromkeys(self))
