#!/usr/bin/env bash
# Installs everything archon-sync's tests, demo and benchmark need on a bare Debian 12 machine.
# Idempotent: every step checks first, so a second run does nothing but verify.
# Downloads only through apt and npm.
set -euo pipefail

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
}

apt_install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_update_once
    # postgresql-common would create and start a default cluster; the tests start their own.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.d/archon-sync.conf >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The Debian source of the machine, reused (URI and keyring) for a trixie deb-src line.
debian_source_fields() {
  local file
  for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    if grep -q 'deb.debian.org/debian$\|/debian$' "$file" 2>/dev/null || grep -qE '^URIs:.*debian/?$' "$file"; then
      local uri keyring
      uri=$(grep -m1 -E '^URIs:' "$file" | awk '{print $2}')
      keyring=$(grep -m1 -E '^Signed-By:' "$file" | awk '{print $2}')
      if [ -n "$uri" ]; then echo "$uri ${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}"; return 0; fi
    fi
  done
  echo "http://deb.debian.org/debian /usr/share/keyrings/debian-archive-keyring.gpg"
}

install_pgvector() {
  local libdir
  libdir="$("$PG_CONFIG" --pkglibdir)"
  if [ -f "$libdir/vector.so" ] && [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]; then
    log "pgvector already installed"
    return 0
  fi
  log "building pgvector from Debian trixie source"
  read -r uri keyring < <(debian_source_fields)
  local src_list=/etc/apt/sources.list.d/archon-sync-trixie-src.sources
  if [ ! -f "$src_list" ]; then
    as_root tee "$src_list" >/dev/null <<SRC
Types: deb-src
URIs: ${uri}
Suites: trixie
Components: main
Signed-By: ${keyring}
SRC
    apt_updated=0
  fi
  apt_update_once
  local build_dir
  build_dir="$(mktemp -d /tmp/archon-sync-pgvector.XXXXXX)"
  (
    cd "$build_dir"
    apt-get source -qq pgvector >/dev/null 2>&1 || apt-get source pgvector
    cd "$(find . -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"
    # OPTFLAGS empty: no -march=native, so the build runs on any x86-64 machine CI may get.
    make -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
    as_root make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
  )
  rm -rf "$build_dir"
  [ -f "$libdir/vector.so" ] || { log "pgvector build did not produce vector.so"; exit 1; }
  log "pgvector installed"
}

install_node_modules() {
  cd "$repo_root"
  local stamp=node_modules/.archon-sync-lock-hash
  local want
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "node_modules up to date"
    return 0
  fi
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
}

apt_install_missing "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}" \
  pgbouncer build-essential dpkg-dev openssl ca-certificates tmux time procps
# Debian starts pgbouncer as a service on install; the tests run their own instances.
if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
as_root service pgbouncer stop >/dev/null 2>&1 || true
install_pgvector
install_node_modules
log "ready: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), pgvector $(grep default_version "$("$PG_CONFIG" --sharedir)/extension/vector.control" | cut -d"'" -f2)"
