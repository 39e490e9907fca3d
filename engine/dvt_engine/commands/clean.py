"""clean: delete the project's clean-targets (target/ and the packages folder by default).

Like dbt, it needs only dbt_project.yml: no profile, no parse, no connection. It refuses
to delete source folders (models/, seeds/, ...) and anything outside the project root.

Also home of the helpers the other profile-less commands (init, deps, debug) share.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_engine.errors import DvtError, ProjectError
from dvt_engine.events import Event, EventBus
from dvt_engine.options import Options
from dvt_engine.project.project import ProjectConfig, find_project_dir, load_project
from dvt_engine.project.yaml_io import yaml_renderer
from dvt_engine.results import EXIT_ERROR, EXIT_OK, CommandResult, InfoResult

if TYPE_CHECKING:
    from dvt_engine.session import Session

Subscriber = Callable[[Event], None]


def render_without_profile(cli_vars: dict[str, Any]) -> Callable[[str], Any]:
    """Render Jinja in dbt_project.yml values with env_var() and --vars only."""
    return yaml_renderer(cli_vars, None, ProjectError)


def project_root(options: Options) -> Path:
    return Path(options.project_dir).resolve() if options.project_dir else find_project_dir()


def load_project_only(options: Options, session: Session | None = None) -> ProjectConfig:
    """dbt_project.yml of the session, or of --project-dir / the cwd, without a profile."""
    if session is not None:
        return session.project
    return load_project(project_root(options), render_without_profile(dict(options.vars)))


def error_result(command: str, bus: EventBus, exc: DvtError, code: int = EXIT_ERROR
                 ) -> CommandResult:
    bus.log(str(exc), "error")
    return CommandResult(command, False, exit_code=code, error=exc)


def run(options: Options, bus: EventBus, session: Session | None) -> CommandResult:
    try:
        project = load_project_only(options, session)
        paths = _checked_paths(project)
    except DvtError as exc:
        return error_result("clean", bus, exc)
    for shown, path in paths:
        bus.log(f"Checking {shown}/*")
        _remove(path)
        bus.log(f"Cleaned {shown}/*")
    if not paths:
        bus.warn("No clean-targets configured in dbt_project.yml")
    bus.log("Finished cleaning all paths.")
    return InfoResult("clean", True, exit_code=EXIT_OK)


def _checked_paths(project: ProjectConfig) -> list[tuple[str, Path]]:
    """(display path, absolute path) per clean target; raises before deleting anything."""
    root = project.root.resolve()
    protected = {(root / p).resolve() for p in _source_paths(project)}
    out: list[tuple[str, Path]] = []
    outside: list[str] = []
    refused: list[str] = []
    for target in project.clean_targets:
        path = (root / str(target)).resolve()
        if root not in path.parents:  # also refuses the project root itself
            outside.append(str(target))
        elif path in protected or any(path in p.parents for p in protected):
            refused.append(str(target))
        elif path not in [p for _, p in out]:
            out.append((path.relative_to(root).as_posix(), path))
    if outside:
        raise ProjectError(
            f"dvt will not clean the following directories outside the project: {outside}",
            path="dbt_project.yml",
            hint="clean-targets must be folders inside the project, e.g. [target, "
                 f"{project.packages_install_path}].",
        )
    if refused:
        raise ProjectError(
            f"dvt will not clean the following source paths: {refused}",
            path="dbt_project.yml",
            hint="Remove them from clean-targets: they hold your models, seeds or macros.",
        )
    return out


def _source_paths(project: ProjectConfig) -> list[str]:
    return [*project.model_paths, *project.seed_paths, *project.macro_paths,
            *project.test_paths, *project.snapshot_paths, *project.analysis_paths,
            *(project.docs_paths or [])]


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
