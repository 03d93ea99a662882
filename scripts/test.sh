#!/usr/bin/env bash
# The one test command: installs what a fresh machine lacks, starts the local PostgreSQL when it
# is installed and down, then runs fmt, clippy and the whole workspace test suite (the store
# suite on SQLite and on PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Rust components the checks need.
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

# The browser tests drive headless Debian chromium through chromedriver; a CJK font makes the
# Chinese screenshots legible.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
   || ! ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing chromium, chromium-driver and a CJK font"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium chromium-driver fonts-wqy-microhei >/dev/null
  else
    echo "chromium and chromium-driver are missing and cannot be installed here (need root and apt-get)" >&2
  fi
fi

# PostgreSQL: start the local cluster if it is installed and not running.
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  if pg_up; then
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
    if command -v psql >/dev/null 2>&1; then
      psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1 \
        || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
    fi
    log "PostgreSQL is up: store tests also run on $TEST_DATABASE_URL"
  else
    log "PostgreSQL is not available: store tests run on SQLite only"
  fi
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (workspace)"
cargo test --workspace --locked
