"""Spark settings for federation come from the project and the profile (profile wins)."""

from __future__ import annotations

from dvt_engine.session import Session


def test_spark_conf_from_project_and_profile(project):
    project.write("dbt_project.yml", """
        name: proj
        profile: proj
        spark:
          spark.driver.memory: 2g
          spark.sql.shuffle.partitions: 8
    """)
    project.write("profiles.yml", """
        proj:
          target: dev
          spark:
            spark.master: local[2]
            spark.sql.shuffle.partitions: 2
          outputs:
            dev:
              type: duckdb
              path: dev.duckdb
    """)
    conf = Session(project.root, profiles_dir=str(project.root)).spark_conf()
    assert conf == {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": 2,
                    "spark.master": "local[2]"}
