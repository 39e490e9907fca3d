"""Errors a user can act on: what went wrong, where (file:line or node), and a hint."""

from __future__ import annotations


class DvtError(Exception):
    """An error in the user's project or command, shown without a traceback."""

    kind = "Error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        line: int | None = None,
        node: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.node = node

    def location(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}"
        return self.path or self.node or ""

    def __str__(self) -> str:
        where = self.location()
        text = f"{self.kind} in {where}: {self.message}" if where else f"{self.kind}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProjectError(DvtError):
    kind = "Project error"


class ParsingError(DvtError):
    kind = "Parsing Error"


class CompilationError(DvtError):
    kind = "Compilation Error"


class DatabaseError(DvtError):
    kind = "Database Error"


class RuntimeDatabaseError(DatabaseError):
    """A database error in the words dbt-duckdb uses for it (dbt's DbtRuntimeError);
    dbt-postgres says "Database Error"."""

    kind = "Runtime Error"


class SelectionError(DvtError):
    kind = "Selection error"
