"""init: create a new project folder from dbt's starter project, with a DuckDB profile.

Never prompts (stdin may be closed in notebooks and CI): the name is an argument and
the profile is a local DuckDB file, written next to dbt_project.yml so the project runs
as soon as it is created. `--project-dir` (optional) is the folder to create it in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from dvt_engine.commands.clean import error_result
from dvt_engine.errors import ProjectError
from dvt_engine.events import EventBus
from dvt_engine.options import Options
from dvt_engine.results import EXIT_OK, CommandResult, InfoResult

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DBT_PROJECT = """\
# Name your project! Project names should contain only lowercase characters
# and underscores.
name: '{name}'
version: '1.0.0'

# This setting configures which "profile" DVT uses for this project.
profile: '{name}'

# These configurations specify where DVT should look for different types of files.
model-paths: ["models"]
analysis-paths: ["analyses"]
test-paths: ["tests"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
snapshot-paths: ["snapshots"]

clean-targets:         # directories to be removed by `dvt clean`
  - "target"
  - "dvt_packages"

# Configuring models. `+materialized: view` is the default for every model here;
# models/example/my_first_model.sql overrides it with config(materialized='table').
models:
  {name}:
    example:
      +materialized: view
"""

PROFILES = """\
{name}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {name}.duckdb
      threads: 4
"""

FIRST_MODEL = """\
/*
    Welcome to your first DVT model!
    Did you know that you can also configure models directly within SQL files?
    This will override configurations stated in dbt_project.yml

    Try changing "table" to "view" below
*/

{{ config(materialized='table') }}

with source_data as (

    select 1 as id
    union all
    select 2 as id

)

select *
from source_data
"""

SECOND_MODEL = """\
-- Use the `ref` function to select from other models

select *
from {{ ref('my_first_model') }}
where id = 1
"""

SCHEMA_YML = """\
version: 2

models:
  - name: my_first_model
    description: "A starter DVT model"
    columns:
      - name: id
        description: "The primary key for this table"
        data_tests:
          - unique
          - not_null

  - name: my_second_model
    description: "A starter DVT model"
"""

GITIGNORE = """\
target/
dbt_packages/
dvt_packages/
logs/
*.duckdb
*.duckdb.wal
"""

README = """\
Welcome to your new DVT project!

### Using the starter project

Try running the following commands:
- dvt run
- dvt test
- dvt build
"""

KEEP_DIRS = ("seeds", "macros", "tests", "snapshots", "analyses")

if TYPE_CHECKING:
    from dvt_engine.session import Session


def run(options: Options, bus: EventBus, session: Session | None) -> CommandResult:
    try:
        name = _checked_name(options.project_name)
        parent = Path(options.project_dir).resolve() if options.project_dir else Path.cwd()
        root = parent / name
        if root.exists():
            raise ProjectError(
                f"A project called {name} already exists here.",
                path=str(root),
                hint="Pick another name, or remove that folder first.",
            )
    except ProjectError as exc:
        return error_result("init", bus, exc)
    bus.log(f"Creating dvt configuration folder at {root}")
    files = _starter_files(name, with_profile=not options.skip_profile_setup)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if options.skip_profile_setup:
        bus.log("Skipping profile setup: add a profile named "
                f"'{name}' to your profiles.yml (e.g. ~/.dbt/profiles.yml).")
    else:
        bus.log(f"Profile {name} written to {root / 'profiles.yml'} "
                f"(DuckDB file {name}.duckdb).")
    bus.log("")
    bus.log(f'Your new DVT project "{name}" was created!')
    bus.log("")
    bus.log(f"Next: cd {name} && dvt build")
    return InfoResult("init", True, exit_code=EXIT_OK, details={"path": root})


def _checked_name(name: str | None) -> str:
    if not name:
        raise ProjectError(
            "No project name given.",
            hint="Run `dvt init my_project` (DVT does not prompt: pass the name).",
        )
    if not _NAME.match(name):
        raise ProjectError(
            f"'{name}' is not a valid project name.",
            hint="Use letters, digits and underscores, starting with a letter or "
                 "underscore, e.g. my_project.",
        )
    return name


def _starter_files(name: str, *, with_profile: bool) -> dict[str, str]:
    files = {
        "dbt_project.yml": DBT_PROJECT.format(name=name),
        "models/example/my_first_model.sql": FIRST_MODEL,
        "models/example/my_second_model.sql": SECOND_MODEL,
        "models/example/schema.yml": SCHEMA_YML,
        ".gitignore": GITIGNORE,
        "README.md": README,
    }
    for d in KEEP_DIRS:
        files[f"{d}/.gitkeep"] = ""
    if with_profile:
        files["profiles.yml"] = PROFILES.format(name=name)
    return files
