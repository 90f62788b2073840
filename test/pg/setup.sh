#!/usr/bin/env bash
# Prepares the PostgreSQL tests (test/pg, test/pg/cluster.ts): installs Debian's
# postgresql package when it is missing and this is possible (root, apt). It
# configures nothing and starts nothing: each test file starts its own private
# cluster (initdb in a temp folder, unix socket only) as the postgres user.
#
# Never fails: when postgresql cannot be installed it says so, and the tests are
# skipped with a notice (under CI=true their absence fails the run instead).
# Set M4ME_SKIP_PG=1 to skip the installation.
set -u

note() { echo "test/pg/setup.sh: $*" >&2; }

have_pg() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && getent passwd postgres >/dev/null; }

if [ "${M4ME_SKIP_PG:-}" = 1 ]; then
  note "M4ME_SKIP_PG=1: not installing postgresql (the PostgreSQL tests will be skipped)"
  exit 0
fi
if have_pg; then
  note "postgresql is installed ($(ls -d /usr/lib/postgresql/*/bin/initdb | head -n 1))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  note "postgresql is not installed and this is not root: the PostgreSQL tests will be skipped"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  note "postgresql is not installed and there is no apt-get: the PostgreSQL tests will be skipped"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/m4me-pg-setup.XXXXXX.log)
install_pg() {
  # The package's own cluster is not wanted: the tests start private ones.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/m4me-no-main.conf
  timeout 600 apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql
}
note "installing postgresql with apt-get"
if ! install_pg >"$LOG" 2>&1; then
  # A clean image often has no package lists yet.
  note "apt-get install failed; running apt-get update and trying again"
  if ! { timeout 600 apt-get update -q && install_pg; } >>"$LOG" 2>&1; then
    note "could not install postgresql (log: $LOG): the PostgreSQL tests will be skipped"
    tail -n 5 "$LOG" >&2
    exit 0
  fi
fi
rm -f "$LOG"
if have_pg; then
  note "postgresql installed ($(ls -d /usr/lib/postgresql/*/bin/initdb | head -n 1))"
else
  note "apt-get reported success but initdb or the postgres user is missing: the PostgreSQL tests will be skipped"
fi
exit 0
