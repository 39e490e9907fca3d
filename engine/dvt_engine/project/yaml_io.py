"""Reading YAML files with errors that name the file and line, and env_var() in values."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dvt_engine.errors import DvtError, ParsingError

if TYPE_CHECKING:
    from dvt_engine.project.project import ProjectConfig

try:  # the C loader is ~10x faster on big schema files
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

_JINJA = re.compile(r"{{|{%")
_SECRET_KEYS = ("password", "token", "secret", "private_key", "passphrase")


def load_yaml_file(path: Path, root: Path | None = None) -> Any:
    text = path.read_text(encoding="utf-8")
    return load_yaml_text(text, _display(path, root))


def load_yaml_text(text: str, display_path: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParsingError(
            f"invalid YAML: {problem}",
            path=display_path,
            line=line,
            hint="Check indentation and quoting on that line.",
        ) from None


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def env_var(name: str, default: Any = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return str(default)
    raise ParsingError(
        f"Env var required but not provided: '{name}'",
        hint=f"export {name}=... or give a default: env_var('{name}', 'default')",
    )


def render_values(value: Any, render: Any) -> Any:
    """Apply `render(str) -> Any` to every string in a YAML tree that contains Jinja."""
    if isinstance(value, str):
        return render(value) if _JINJA.search(value) else value
    if isinstance(value, dict):
        return {k: render_values(v, render) for k, v in value.items()}
    if isinstance(value, list):
        return [render_values(v, render) for v in value]
    return value


def is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(s in k for s in _SECRET_KEYS)


def yaml_renderer(vars: Mapping[str, Any], project: ProjectConfig | None,
                  error: type[DvtError] = ParsingError) -> Callable[[str], Any]:
    """`render(text)`: env_var() and var() in a YAML value (dbt_project.yml, profiles);
    var() sees the project's vars too once the project is loaded. A bad expression is an
    `error`."""
    from dvt_engine.jinja.environment import get_native_environment

    scope = project.project_vars(dict(vars)) if project else dict(vars)

    def var(name: str, default: Any = None) -> Any:
        return scope.get(name, default)

    def render(text: str) -> Any:
        try:
            return get_native_environment().from_string(text).render(
                env_var=env_var, var=var, target=None)
        except DvtError:
            raise
        except Exception as exc:  # a bad expression in YAML
            raise error(f"could not render {text!r}: {exc}") from None

    return render
