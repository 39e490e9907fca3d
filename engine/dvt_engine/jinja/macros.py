"""Macros: parsed from macro files once, called in a node's render context.

Jinja macros take their globals from the module they were defined in, so a macro file
is turned into a module per render context (lazily, on the first call of one of its
macros). That is what lets a project macro call ref(), this, adapter, other macros.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import CompilationError, DvtError
from dvt_engine.jinja.blocks import rewrite_blocks
from dvt_engine.manifest import Macro

if TYPE_CHECKING:  # jinja2 loads on the first macro compiled: static models need none
    import jinja2

_MACRO_DEF = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")
_MATERIALIZATION_DEF = re.compile(r"{%-?\s*materialization\s+(\w+)\s*,")
# one macro block: compiled alone, so calls to other macros resolve through the context
# (dbt does the same), which is what makes `return()` and overrides work across files
_MACRO_BLOCK = re.compile(
    r"{%-?\s*macro\s+(\w+)\s*\(.*?{%-?\s*endmacro\s*-?%}", re.S
)


_UNDEFINED = re.compile(r"'(\w+)' is undefined")


class MacroReturn(Exception):  # noqa: N818 - control flow, like dbt's
    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass
class MacroFile:
    """One macro: its source block, compiled on first use."""

    path: str
    package: str
    source: str
    names: list[str]
    _template: jinja2.Template | None = None
    _parse_template: jinja2.Template | None = None

    @property
    def template(self) -> jinja2.Template:
        if self._template is None:
            from dvt_engine.jinja.environment import compile_template

            self._template = compile_template(self.source, self.path)
        return self._template

    @property
    def parse_template(self) -> jinja2.Template:
        """Compiled for parse-time rendering (lenient undefined, as dbt)."""
        if self._parse_template is None:
            from dvt_engine.jinja.environment import compile_template

            self._parse_template = compile_template(self.source, self.path, parsing=True)
        return self._parse_template


@dataclass
class MacroRegistry:
    """All macros by name, project macros shadowing DVT's builtins."""

    files: list[MacroFile] = field(default_factory=list)
    by_name: dict[str, MacroFile] = field(default_factory=dict)
    by_package: dict[str, dict[str, MacroFile]] = field(default_factory=dict)
    # `{% materialization name %}` blocks: name -> the file (not run yet: a model that
    # uses one fails, naming that file)
    materializations: dict[str, str] = field(default_factory=dict)

    def add_file(self, source: str, path: str, package: str) -> list[Macro]:
        for name in _MATERIALIZATION_DEF.findall(source):
            self.materializations.setdefault(name, path)
        source = rewrite_blocks(source)
        names = []
        pkg = self.by_package.setdefault(package, {})
        for m in _MACRO_BLOCK.finditer(source):
            name = m.group(1)
            # keep line numbers of the file in errors: pad with the newlines before the block
            block = "\n" * source.count("\n", 0, m.start()) + m.group(0)
            mf = MacroFile(path=path, package=package, source=block, names=[name])
            if package != "dvt":
                # dbt fails the parse on a macro's syntax error, used or not; parse (not
                # compile) is cheap and gives the line
                from dvt_engine.jinja.environment import parse_template

                parse_template(block, path)
            if name in pkg:
                raise CompilationError(
                    f"dbt found two macros named \"{name}\" in the project \"{package}\": "
                    f"{pkg[name].path} and {path}",
                    path=path, hint="Rename one of them.",
                )
            self.files.append(mf)
            pkg[name] = mf
            names.append(name)
        if _MACRO_DEF.search(source) and not names:
            from dvt_engine.jinja.environment import compile_template

            compile_template(source, path)  # raises the syntax error with its line
        return [
            Macro(unique_id=f"macro.{package}.{n}", name=n, package_name=package,
                  original_file_path=path, macro_sql="")
            for n in names
        ]

    def resolve_order(self, root_package: str) -> None:
        """Lookup by bare name: the root project first, then other packages, then builtins."""
        self.by_name = {}
        order = [p for p in self.by_package if p not in (root_package, "dvt")]
        for pkg in ["dvt", *order, root_package]:
            self.by_name.update(self.by_package.get(pkg, {}))

    def package_hint(self, message: str) -> str | None:
        """For Jinja's "'x' is undefined": x is a package's macro, reached through the
        package's name as dbt requires (`dbt_utils.star`, not `star`)."""
        found = _UNDEFINED.search(message)
        if found is None:
            return None
        name = found.group(1)
        owners = [p for p, macros in self.by_package.items() if name in macros and p != "dvt"]
        if not owners:
            return None
        return f"{name} is a macro of package {owners[0]}: call it as {owners[0]}.{name}(...)"

    def find(self, name: str, package: str | None = None) -> MacroFile | None:
        if package:
            return self.by_package.get(package, {}).get(name)
        return self.by_name.get(name)

    def bind(self, context: MutableMapping[str, Any], search_package: str,
             root_package: str) -> dict[str, MacroCallable]:
        """Bare macro names as dbt resolves them for a node of `search_package`: that
        package's macros, then the root project's, then the built-in ones. Other packages'
        macros are reached through their package name only (`dbt_utils.star`), so two
        packages never shadow each other or the built-ins."""
        modules: dict[str, Any] = {}
        out: dict[str, MacroCallable] = {}
        for package in ("dvt", root_package, search_package):  # the last one wins
            for name, mf in self.by_package.get(package, {}).items():
                out[name] = MacroCallable(name, mf, context, modules)
        return out

    def package_namespace(
        self, package: str, context: MutableMapping[str, Any], modules: dict[str, Any] | None = None
    ) -> dict[str, MacroCallable]:
        modules = {} if modules is None else modules
        return {n: MacroCallable(n, mf, context, modules)
                for n, mf in self.by_package.get(package, {}).items()}


class MacroCallable:
    """A macro bound to a render context; `{{ return(x) }}` inside it returns x."""

    __slots__ = ("name", "file", "context", "modules")

    def __init__(self, name: str, file: MacroFile, context: MutableMapping[str, Any],
                 modules: dict[str, Any]) -> None:
        self.name = name
        self.file = file
        self.context = context
        self.modules = modules

    def _module(self) -> dict[str, Any]:
        """The names the macro's block defines, run in this context.

        Not `Template.make_module`: a Jinja module exports public names only, and dbt
        packages call their `_`-prefixed macros (`dbt_utils._is_relation`)."""
        key = f"{self.file.package}.{self.name}"
        mod = self.modules.get(key)
        if mod is None:
            parsing = self.context.get("execute") is False
            template = self.file.parse_template if parsing else self.file.template
            context = template.new_context(dict(self.context))
            for _ in template.root_render_func(context):  # defines the macro
                pass
            mod = self.modules[key] = context.vars
        return mod

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        macro = self._module()[self.name]
        try:
            return macro(*args, **kwargs)
        except MacroReturn as ret:
            return ret.value
        except DvtError:
            raise
        except Exception as exc:  # a Jinja or Python error inside the macro
            import jinja2

            from dvt_engine.jinja.environment import template_error

            if not isinstance(exc, jinja2.TemplateError):
                raise
            raise template_error(exc, self.file.path) from None

    def __repr__(self) -> str:
        return f"<macro {self.name}>"
