#!/usr/bin/env bash
# PostgreSQL's server binaries, for the store tests: tests/postgres_server.py starts
# throw-away servers from them (initdb into a temporary directory, pg_ctl on a free port).
# Where they are missing and we may, Debian's `postgresql` package is installed, with no
# cluster created or started by it; else one line says what to install.
set -euo pipefail
if [ -n "${AQI_TEST_POSTGRES_URL:-}" ]; then
  exit 0  # the tests use that server
fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "make test: PostgreSQL's server binaries are missing: install them (Debian, Ubuntu:" \
    "apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install" \
    "postgresql) or set AQI_TEST_POSTGRES_URL to a server where you may create databases" >&2
  exit 1
fi
echo "make test: installing Debian's postgresql package for the store tests (no cluster is created or started)"
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/aqi-stream-tests.conf
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends postgresql >/dev/null; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends postgresql >/dev/null
fi
