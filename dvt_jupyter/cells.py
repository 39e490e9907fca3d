"""Models defined in notebook cells: an in-memory file of the project, saved on request."""

from __future__ import annotations

from pathlib import Path

from dvt_engine.errors import DvtError
from dvt_engine.session import Session


def config_call(materialized: str | None, target: str | None, schema: str | None,
                tags: list[str]) -> str:
    """The `{{ config(...) }}` line for the magic's flags ('' when there are none)."""
    items = []
    for key, value in (("materialized", materialized), ("target", target), ("schema", schema)):
        if value:
            items.append(f"{key}={value!r}")
    if tags:
        items.append(f"tags={tags!r}")
    return "{{ config(" + ", ".join(items) + ") }}\n" if items else ""


def model_path(session: Session, name: str) -> tuple[str, bool]:
    """Where the model lives: the file of the same name if there is one, else a new file."""
    uid = f"model.{session.project.name}.{name}"
    existing = session.manifest.nodes.get(uid) or session.manifest.disabled.get(uid)
    if existing is not None and existing.original_file_path not in session.overlays:
        return existing.original_file_path, True
    for rel in session.overlays:
        if Path(rel).stem == name:
            return rel, False
    return f"{session.project.model_paths[0]}/{name}.sql", False


def define_model(session: Session, name: str, body: str, *, materialized: str | None = None,
                 target: str | None = None, schema: str | None = None,
                 tags: list[str] | None = None, save: bool = False) -> str:
    """Register (or replace) model `name` from SQL; compile it; return a one-line summary."""
    rel, replaces_file = model_path(session, name)
    text = config_call(materialized, target, schema, tags or []) + body.strip() + "\n"
    previous = session.overlays.get(rel)
    session.overlays[rel] = text
    try:
        manifest = session.parse()
        node = manifest.nodes[f"model.{session.project.name}.{name}"]
        session.compile_node(node.unique_id)
    except (DvtError, KeyError) as exc:
        # a broken cell must not break the session: keep the previous definition
        if previous is None:
            session.overlays.pop(rel, None)
        else:
            session.overlays[rel] = previous
        session.parse()
        if isinstance(exc, KeyError):
            raise DvtError(f"model {name} is disabled or was not defined", path=rel) from None
        raise
    parents = [manifest.get(p).search_name for p in node.depends_on_nodes]
    on = node.target or session.profile.target_name
    reads = f"reads {', '.join(parents)}" if parents else "reads no other node"
    if save:
        path = session.project_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        session.overlays.pop(rel, None)
        session.parse(force=True)
        where = f"saved to {rel}"
    elif replaces_file:
        where = f"replaces {rel} for this session only; --save writes it"
    else:
        where = f"new model, this session only; --save writes {rel}"
    return (f"{name}: {where}. Compiles; {reads}; {node.materialized} on target {on}.")
