"""Seeds on DuckDB: types as dbt-duckdb infers them (agate rules), overrides, delimiters,
Parquet/JSON files, reloading, --show, bad rows and a larger file."""

from __future__ import annotations

import json

import pytest

TYPED_CSV = '''\
id,amount,mixed_num,day,ts,iso_ts,flag,name,empty_col,some_empty,clock,zero_lead
1,1.50,1,2024-01-15,2024-01-15 10:30:00,2024-01-15T10:30:00,true,"Ada, the first",,5,10:30:00,01234
-5,-3.00,2.5,2024-02-29,2024-02-29 00:00:00,2024-02-29T23:59:59,False,Ben,,,11:00:00,007
0,2,3,2023-12-31,2023-12-31 23:59:59,2023-12-31T00:00:00,TRUE,"say ""hi""",,7,12:00:00,5
'''


def _types(project, table: str, schema: str = "main") -> dict[str, str]:
    return dict(project.query(
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}' order by ordinal_position"))


def test_seed_type_inference(project):
    project.write("seeds/typed.csv", TYPED_CSV)
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert _types(project, "typed") == {
        "id": "INTEGER", "amount": "DOUBLE", "mixed_num": "DOUBLE", "day": "DATE",
        "ts": "TIMESTAMP", "iso_ts": "TIMESTAMP", "flag": "BOOLEAN", "name": "VARCHAR",
        "empty_col": "INTEGER", "some_empty": "INTEGER", "clock": "VARCHAR",
        "zero_lead": "INTEGER",
    }
    rows = project.query("select id, amount, flag, name, empty_col, some_empty, zero_lead "
                         "from typed order by id")
    assert rows == [(-5, -3.0, False, "Ben", None, None, 7),
                    (0, 2.0, True, 'say "hi"', None, 7, 5),
                    (1, 1.5, True, "Ada, the first", None, 5, 1234)]
    assert "OK loaded seed file main.typed" in run.output
    assert "[INSERT 3 in " in run.output
    assert "Finished running 1 seed in" in run.output


def test_seed_mixed_columns_fall_back_to_varchar(project):
    project.write("seeds/mixed.csv", "a,b,c,d\n1,2024-01-01,true,2024-01-15 10:30:00+02:00\n"
                                     "x,5,1,2024-01-15 10:30:00+02:00\n")
    assert project.dvt("seed").exit_code == 0
    assert _types(project, "mixed") == {"a": "VARCHAR", "b": "VARCHAR", "c": "VARCHAR",
                                        "d": "VARCHAR"}
    # text keeps the file's exact spelling
    assert project.query("select d from mixed limit 1") == [("2024-01-15 10:30:00+02:00",)]


def test_seed_dates_and_datetimes_mixed_become_timestamp(project):
    project.write("seeds/when.csv", "w\n2024-01-15\n2024-01-15 10:30:00\n")
    assert project.dvt("seed").exit_code == 0
    assert _types(project, "when") == {"w": "TIMESTAMP"}


def test_column_types_in_yaml_and_project(project):
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          proj:
            b:
              +column_types:
                code: varchar
    """)
    project.write("seeds/a.csv", "id,amount\n1,1.5\n2,2.25\n")
    project.write("seeds/b.csv", "id,code\n1,0042\n")
    project.write("seeds/props.yml", """
        version: 2
        seeds:
          - name: a
            config:
              column_types:
                amount: decimal(10, 2)
                id: bigint
    """)
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert _types(project, "a") == {"id": "BIGINT", "amount": "DECIMAL(10,2)"}
    assert _types(project, "b") == {"id": "INTEGER", "code": "VARCHAR"}
    assert project.query("select code from b") == [("0042",)]


def test_delimiter_and_quote_columns(project):
    project.write("seeds/semicolons.csv", "id;Full Name;select\n1;Ada;x\n2;Ben;y\n")
    project.write("seeds/props.yml", """
        version: 2
        seeds:
          - name: semicolons
            config:
              delimiter: ";"
              quote_columns: true
    """)
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert project.query('select id, "Full Name", "select" from semicolons order by id') == [
        (1, "Ada", "x"), (2, "Ben", "y")]


def test_delimiter_in_project(project):
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        seeds:
          +delimiter: "|"
    """)
    project.write("seeds/piped.csv", "a|b\n1|x,y\n")
    assert project.dvt("seed").exit_code == 0
    assert project.query("select a, b from piped") == [(1, "x,y")]


def test_parquet_and_json_seeds(project):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (project.root / "seeds").mkdir()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]}),
                   project.root / "seeds/pq.parquet")
    records = [{"id": 1, "name": "a", "score": 1.5}, {"id": 2, "name": "b", "score": None}]
    (project.root / "seeds/arr.json").write_text(json.dumps(records))
    (project.root / "seeds/lines.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n")
    (project.root / "seeds/lines_json.json").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n")
    project.write("seeds/props.yml", """
        version: 2
        seeds:
          - name: pq
            config:
              column_types: {id: integer}
    """)
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert run.statuses == {"pq": "success", "arr": "success", "lines": "success",
                            "lines_json": "success"}
    assert _types(project, "pq") == {"id": "INTEGER", "name": "VARCHAR"}
    for table in ("arr", "lines", "lines_json"):
        assert project.query(f"select id, name, score from {table} order by id") == [
            (1, "a", 1.5), (2, "b", None)]


def test_reseed_replaces_rows_and_full_refresh(project):
    project.write("seeds/s.csv", "id\n1\n2\n")
    assert project.dvt("seed").exit_code == 0
    assert project.dvt("seed").exit_code == 0
    assert project.query("select count(*) from s") == [(2,)]
    # a new column with --full-refresh (and without: DVT rebuilds either way)
    project.write("seeds/s.csv", "id,name\n3,c\n")
    run = project.dvt("seed", "--full-refresh")
    assert run.exit_code == 0, run.output
    assert project.query("select id, name from s") == [(3, "c")]
    assert not any("__dbt_tmp" in r[0] for r in project.query(
        "select table_name from information_schema.tables"))


def test_seed_show_prints_preview(project):
    project.write("seeds/s.csv", "id,name\n1,alpha_value\n2,beta_value\n")
    run = project.dvt("seed", "--show")
    assert run.exit_code == 0, run.output
    assert "Random sample of table: main.s" in run.output
    assert "alpha_value" in run.output and "beta_value" in run.output


def test_seed_with_late_bad_row_loads_as_varchar(project, tmp_path):
    lines = ["id,n"] + [f"{i},{i}" for i in range(40_000)]
    lines[30_001] = "30000,abc"
    (project.root / "seeds").mkdir()
    (project.root / "seeds/late.csv").write_text("\n".join(lines) + "\n")
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert _types(project, "late") == {"id": "INTEGER", "n": "VARCHAR"}
    assert project.query("select n from late where id = 30000") == [("abc",)]
    assert project.query("select count(*) from late") == [(40_000,)]


def test_ragged_seed_error_names_the_file(project):
    project.write("seeds/ok.csv", "id\n1\n")
    project.write("seeds/broken.csv", "a,b\n1,2\n3,4,5,6\n")
    run = project.dvt("seed")
    assert run.exit_code == 1
    assert run.statuses == {"ok": "success", "broken": "error"}
    assert "ERROR loading seed file main.broken" in run.output
    assert "broken.csv" in run.output


def test_big_seed_loads(project):
    (project.root / "seeds").mkdir()
    with open(project.root / "seeds/big.csv", "w") as f:
        f.write("id,amount,label,day\n")
        for i in range(200_000):
            f.write(f"{i},{i / 4},label_{i % 17},2024-01-{i % 28 + 1:02d}\n")
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert "[INSERT 200000 in " in run.output
    assert _types(project, "big") == {"id": "INTEGER", "amount": "DOUBLE", "label": "VARCHAR",
                                      "day": "DATE"}
    assert project.query("select count(*), sum(id) from big") == [(200_000, 19_999_900_000)]


@pytest.mark.parametrize("value,dtype", [("10000000000", "BIGINT"), ("null", "VARCHAR")])
def test_seed_edge_values(project, value, dtype):
    project.write("seeds/edge.csv", f"v\n1\n{value}\n")
    assert project.dvt("seed").exit_code == 0
    assert _types(project, "edge") == {"v": dtype}


def test_seed_ref_from_model_and_build(project):
    project.write("seeds/raw.csv", "id,status\n1,open\n2,closed\n")
    project.write("models/m.sql", "select * from {{ ref('raw') }} where status = 'open'")
    run = project.dvt("build")
    assert run.exit_code == 0, run.output
    assert project.query("select id from m") == [(1,)]
    assert "1 of 2 START seed file main.raw" in run.output


def test_types_decided_by_rows_past_the_sample(project):
    # the first 6,000 rows look like one type; a later row decides otherwise
    rows = ["ints,dates,empty_then_text,bools,wide"]
    rows += [f"{i},2024-01-01,,true,{i}" for i in range(6000)]
    rows.append("1.5,2024-01-01 10:00:00,late text,maybe,10000000000")
    (project.root / "seeds").mkdir()
    (project.root / "seeds/late_types.csv").write_text("\n".join(rows) + "\n")
    run = project.dvt("seed")
    assert run.exit_code == 0, run.output
    assert _types(project, "late_types") == {
        "ints": "DOUBLE", "dates": "TIMESTAMP", "empty_then_text": "VARCHAR",
        "bools": "VARCHAR", "wide": "BIGINT"}


def test_bad_column_types_override_names_file_and_column(project):
    project.write("seeds/s.csv", "a,b\n1,2\n")
    project.write("seeds/props.yml", """
        version: 2
        seeds:
          - name: s
            config:
              column_types: {b: date}
    """)
    run = project.dvt("seed")
    assert run.exit_code == 1
    assert 'Error when converting column "b"' in run.output
    assert "while loading seed file s.csv" in run.output
    assert "Possible solutions" not in run.output


def test_seed_show_prints_a_sample_as_dbt(project) -> None:
    """dbt's `seed --show`: after 'Finished running', a random sample of up to 10 rows as
    agate prints it (NULL empty, floats with their decimal place, booleans True/False),
    a `...` row when there are more, then two blank lines."""
    rows = "\n".join(f"{i},n{i},{i}.0,{str(i % 2 == 1).lower()}" for i in range(1, 12))
    project.write("seeds/people.csv", f"id,name,amount,flag\n{rows}\n12,,,\n")
    run = project.dvt("seed", "--show")
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    start = lines.index("Random sample of table: main.people")
    assert lines[start - 2].startswith("Finished running 1 seed")
    assert lines[start + 1] == "-" * len("Random sample of table: main.people")
    assert lines[start + 2] == "| id | name | amount |  flag |"
    assert lines[start + 3] == "| -- | ---- | ------ | ----- |"
    body = lines[start + 4:start + 14]
    assert len(body) == 10 and all(line.startswith("|") for line in body)
    assert lines[start + 14] == "| ... | ...  |    ... |   ... |"
    assert lines[start + 15:start + 18] == ["", "", "Completed successfully"]
    assert "NaN" not in run.output and "None" not in run.output
    for line in body:  # 12 has NULLs; the others a float with its place and a boolean
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:] == ["", "", ""] if cells[0] == "12" else \
            cells[2:] == [f"{cells[0]}.0", str(int(cells[0]) % 2 == 1)]
