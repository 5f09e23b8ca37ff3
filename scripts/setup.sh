#!/usr/bin/env bash
# Installs what Bascule's build, demo and tests need on a fresh Debian machine.
# Idempotent: does nothing that is already done.
set -euo pipefail

need=()
command -v tar >/dev/null || need+=(tar)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v cc >/dev/null || need+=(gcc libc6-dev)
[ -x /usr/bin/time ] || need+=(time)
# The peer of `cargo xtask bench sampling` (xargs -P N curl over the same pages).
command -v curl >/dev/null || need+=(curl)
# Throwaway database servers for the MariaDB/PostgreSQL tests (fixtures/testdb): only the
# binaries are used; the tests start private servers in temporary directories.
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
# A throwaway nginx in front of the demo app tests the flag-file maintenance snippet
# (patch-template/maintenance/nginx-maintenance.conf); the tests start their own instance.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# The peer of `cargo xtask bench migrate` (a migration tool run once per database).
if ! command -v dbmate >/dev/null && command -v npm >/dev/null; then
    npm install -g dbmate >/dev/null 2>&1 || echo "warning: npm install -g dbmate failed; bench migrate needs it" >&2
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
