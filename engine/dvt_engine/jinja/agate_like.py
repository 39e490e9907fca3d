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
    def columns(self) -> dict[str, ResultColumn]:
        return {n: ResultColumn(n, self._table.column(n).to_pylist()) for n in self.column_names}

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


class ResultColumn(list):
    def __init__(self, name: str, values: list[Any]) -> None:
        super().__init__(values)
        self.name = name

    @property
    def values(self) -> list[Any]:  # type: ignore[override]
        return list(self)

    def values_distinct(self) -> list[Any]:
        return list(dict.fromkeys(self))
