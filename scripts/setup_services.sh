#!/usr/bin/env bash
# System packages the integration tests need, installed only when missing (Debian):
# PostgreSQL server binaries (the tests start their own server on 127.0.0.1), its JDBC
# driver (Spark reads large PostgreSQL inputs of federated models over JDBC), and a Java 17
# JDK (Spark's JVM; javac builds the Databricks stand-in's test shim).
set -euo pipefail
need=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need+=(postgresql)
fi
if [ ! -f /usr/share/java/postgresql.jar ]; then
    need+=(libpostgresql-jdbc-java)
fi
if ! command -v javac >/dev/null 2>&1; then
    need+=(openjdk-17-jdk-headless)
fi
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "setup_services: missing ${need[*]}; install them (needs root)" >&2
        exit 0  # the tests that need them skip with a reason
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts a cluster on install; the tests run their own servers
    service postgresql stop >/dev/null 2>&1 || true
fi
