"""The one Jinja environment DVT renders with, and dbt's block tags rewritten for it."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox  # noqa: F401  (kept importable for users' macros that test for it)

from dvt_engine.errors import CompilationError


def _as_bool(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _as_number(value: Any) -> Any:
    if isinstance(value, str):
        return float(value) if any(c in value for c in ".eE") else int(value)
    return value


def _as_native(value: Any) -> Any:
    import ast

    try:
        return ast.literal_eval(value) if isinstance(value, str) else value
    except (ValueError, SyntaxError):
        return value


class _DvtUndefined(jinja2.Undefined):
    """Undefined that raises when used, naming the variable (dbt behaves the same)."""

    def __str__(self) -> str:
        self._fail_with_undefined_error()
        return ""


class ParseUndefined(jinja2.Undefined):
    """dbt's parse-time undefined: attribute, item and call on it give itself, so a model's
    `run_query(...).columns[0].values()` or `load_result('x')['data']` parses without a
    database (their results only exist at execution)."""

    def __getitem__(self, name: Any) -> ParseUndefined:
        return self

    def __getattr__(self, name: str) -> ParseUndefined:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.__class__(hint=self._undefined_hint, name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> ParseUndefined:
        return self


@lru_cache(maxsize=2)
def get_environment(parsing: bool = False) -> jinja2.Environment:
    """The SQL environment; `parsing` gives the lenient one used while parsing (as dbt)."""
    env = jinja2.Environment(
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        undefined=ParseUndefined if parsing else jinja2.Undefined,
        keep_trailing_newline=True,
        autoescape=False,
        cache_size=10000,
    )
    env.filters.update(
        as_bool=_as_bool, as_number=_as_number, as_native=_as_native, as_text=str,
        tojson=lambda v, **kw: json.dumps(v, **kw),
    )
    return env


@lru_cache(maxsize=1)
def get_native_environment() -> jinja2.Environment:
    """Renders YAML values: `{{ env_var('PORT') | as_number }}` gives an int."""
    from jinja2.nativetypes import NativeEnvironment

    env = NativeEnvironment(extensions=["jinja2.ext.do"])
    env.filters.update(as_bool=_as_bool, as_number=_as_number, as_native=_as_native, as_text=str)
    return env


def parse_template(source: str, path: str) -> None:
    """Check Jinja syntax only; raises the error with its file and line."""
    try:
        get_environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise CompilationError(
            exc.message or "invalid Jinja", path=path, line=exc.lineno,
            hint="Check that every {% ... %} block is closed and quotes are balanced.",
        ) from None


def compile_template(source: str, path: str, parsing: bool = False) -> jinja2.Template:
    try:
        return get_environment(parsing).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise CompilationError(
            exc.message or "invalid Jinja", path=path, line=exc.lineno,
            hint="Check that every {% ... %} block is closed and quotes are balanced.",
        ) from None


def template_error(exc: Exception, path: str) -> CompilationError:
    """Turn an exception raised while rendering into an error naming file and line."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    msg = str(exc) if not isinstance(exc, jinja2.UndefinedError) else f"{exc}"
    return CompilationError(msg, path=path, line=line)
