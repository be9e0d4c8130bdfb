#!/usr/bin/env bash
# Start the real servers the test suite needs, run a command, stop exactly what we started.
#
#   bash scripts/test-services.sh <command> [args...]
#   bash scripts/test-services.sh vitest run --coverage
#
# Servers (127.0.0.1 only, free ports from CACHEADO_SERVICES_BASE_PORT, default 17379 upwards):
#   - one standalone redis-server                   -> CACHEADO_REDIS_URL
#   - a Redis Cluster of three masters               -> CACHEADO_REDIS_CLUSTER_NODES
#   - FerretDB 1.24.2 (SQLite handler, MongoDB wire) -> CACHEADO_MONGODB_URL
# Also exported: CACHEADO_REDIS_SERVER_BIN, CACHEADO_FERRETDB_BIN, CACHEADO_SERVICES=1.
#
# Missing tools are installed (redis via apt-get, FerretDB built with Go, cached).
# CACHEADO_SKIP_SERVICES=1 runs the command without any server.
# CACHEADO_FERRETDB_BIN=/path/to/ferretdb uses that binary instead of the cached build.
# The exit code is the command's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRETDB_VERSION="v1.24.2"
FERRETDB_MODULE="github.com/FerretDB/FerretDB"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/cacheado"
READY_TIMEOUT="${CACHEADO_SERVICES_TIMEOUT:-30}"   # seconds per server
BASE_PORT="${CACHEADO_SERVICES_BASE_PORT:-17379}"

log() { echo "[test-services] $*" >&2; }
die() { echo "[test-services] error: $*" >&2; exit 1; }

if [[ $# -eq 0 ]]; then
  echo "usage: bash scripts/test-services.sh <command> [args...]" >&2
  exit 2
fi

# Project binaries (vitest, tsx, ...) are found without npx.
export PATH="$ROOT/node_modules/.bin:$PATH"

if [[ "${CACHEADO_SKIP_SERVICES:-}" == "1" ]]; then
  log "CACHEADO_SKIP_SERVICES=1: running without servers"
  exec "$@"
fi

# ---------------------------------------------------------------- installation

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

ensure_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return; fi
  log "installing redis-server with apt-get"
  # Wait for (rather than fight) another apt/dpkg run holding the lock.
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  as_root "${apt[@]}" update >&2
  as_root "${apt[@]}" install -y redis-server >&2
  command -v redis-server >/dev/null || die "redis-server still not on PATH after apt-get install"
}

# Succeeds if $1 is a runnable FerretDB binary of the wanted version.
# (A plain `go install ...@v1.24.2` build panics at start-up: "Invalid build/version/version.txt".)
ferretdb_ok() {
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION"
}

find_go() {
  if command -v go >/dev/null; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "Go (>= 1.21) is needed to build FerretDB once; install it from https://go.dev/dl"
  fi
}

# Build FerretDB from the module source with build/version/version.txt filled in
# (that file is generated upstream and absent from the module zip).
build_ferretdb() {
  local out="$1" go src work
  go="$(find_go)"
  log "building FerretDB $FERRETDB_VERSION (first time only, takes a few minutes)"
  src="$(cd / && "$go" mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || die "could not download $FERRETDB_MODULE@$FERRETDB_VERSION"
  work="$(mktemp -d "${TMPDIR:-/tmp}/cacheado-ferretdb-build.XXXXXX")"
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
  if ! (cd "$work" && "$go" build -trimpath -buildvcs=false -o "$out.tmp.$$" ./cmd/ferretdb) >&2; then
    rm -rf "$work" "$out.tmp.$$"
    die "FerretDB build failed"
  fi
  rm -rf "$work"
  mv -f "$out.tmp.$$" "$out"   # atomic: a concurrent run never sees half a binary
}

ensure_ferretdb() {
  if [[ -n "${CACHEADO_FERRETDB_BIN:-}" ]]; then
    [[ -x "$CACHEADO_FERRETDB_BIN" ]] || die "CACHEADO_FERRETDB_BIN=$CACHEADO_FERRETDB_BIN is not executable"
    FERRETDB_BIN="$CACHEADO_FERRETDB_BIN"
    return
  fi
  local cached="$CACHE_DIR/ferretdb-$FERRETDB_VERSION/ferretdb" candidate gopath=""
  if command -v go >/dev/null; then gopath="$(go env GOPATH 2>/dev/null || true)"; fi
  for candidate in "$cached" ${gopath:+"$gopath/bin/ferretdb"} "$(command -v ferretdb || true)"; do
    if [[ -n "$candidate" ]] && ferretdb_ok "$candidate"; then FERRETDB_BIN="$candidate"; return; fi
  done
  # One build at a time across concurrent runs; re-check once we hold the lock.
  mkdir -p "$(dirname "$cached")"
  (
    flock -w 1800 8 || die "timed out waiting for another FerretDB build"
    ferretdb_ok "$cached" || build_ferretdb "$cached"
  ) 8>"$CACHE_DIR/ferretdb-build.lock"
  ferretdb_ok "$cached" || die "built FerretDB at $cached does not run"
  FERRETDB_BIN="$cached"
}

ensure_redis
ensure_ferretdb
REDIS_SERVER_BIN="$(command -v redis-server)"

# ------------------------------------------------------------ cleanup on exit

TMP=""
PIDS=()

# Those of PIDS still alive as our own children (never a recycled PID of someone else).
our_children() {
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    if [[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$$" ]]; then echo "$pid"; fi
  done
}

cleanup() {
  local status=$? live i
  trap - EXIT INT TERM
  live=($(our_children))
  if ((${#live[@]})); then
    kill -TERM "${live[@]}" 2>/dev/null || true
    # Graceful stop within 10 s, else SIGKILL.
    for ((i = 0; i < 50; i++)); do
      live=($(our_children))
      ((${#live[@]})) || break
      sleep 0.2
    done
    if ((${#live[@]})); then kill -KILL "${live[@]}" 2>/dev/null || true; fi
    wait 2>/dev/null || true
  fi
  if [[ -n "$TMP" ]]; then rm -rf "$TMP"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cacheado-services.XXXXXX")"

# --------------------------------------------------------------------- ports

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Five consecutive free ports: redis, 3 cluster nodes, ferretdb.
# Cluster nodes also need their bus port (port + 10000).
pick_ports() {
  local base="$1" i p
  while ((base < 30000)); do
    for ((i = 0; i < 5; i++)); do
      p=$((base + i))
      if port_in_use "$p" || { ((i >= 1 && i <= 3)) && port_in_use $((p + 10000)); }; then
        base=$((p + 1))
        continue 2
      fi
    done
    echo "$base"
    return
  done
  die "no free ports found from $1 upwards"
}

# Concurrent runs would pick the same free ports: serialise picking + binding.
exec 9>"${TMPDIR:-/tmp}/cacheado-test-services.lock"
flock -w 120 9 || die "timed out waiting for another test-services.sh to start its servers"

BASE="$(pick_ports "$BASE_PORT")"
REDIS_PORT=$BASE
CLUSTER_PORTS=($((BASE + 1)) $((BASE + 2)) $((BASE + 3)))
FERRET_PORT=$((BASE + 4))

# ------------------------------------------------------------------ servers

# start <logfile> <workdir> <cmd...>: run in background (lock fd closed), record PID.
start() {
  local logfile="$1" dir="$2"
  shift 2
  (cd "$dir" && exec "$@" 9>&-) >"$logfile" 2>&1 &
  PIDS+=($!)
}

fail() { # fail <message> <logfile>
  log "$1 (log: $2)"
  tail -n 30 "$2" >&2 || true
  exit 1
}

# wait_for <what> <logfile> <pid> <check-cmd...>: poll until the check passes.
wait_for() {
  local what="$1" logfile="$2" pid="$3" deadline=$((SECONDS + READY_TIMEOUT))
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "$what exited during start-up" "$logfile"
    ((SECONDS < deadline)) || fail "$what not ready after ${READY_TIMEOUT}s" "$logfile"
    sleep 0.2
  done
}

# (timeout: a half-started server must not hang a probe past the deadline)
redis_ping() { [[ "$(timeout --foreground 5 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }
cluster_ok() { timeout --foreground 5 redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

REDIS_COMMON=(--bind 127.0.0.1 --save "" --appendonly no --daemonize no --logfile "")

# Standalone Redis.
mkdir -p "$TMP/redis-$REDIS_PORT"
start "$TMP/redis-$REDIS_PORT.log" "$TMP/redis-$REDIS_PORT" \
  "$REDIS_SERVER_BIN" --port "$REDIS_PORT" "${REDIS_COMMON[@]}"
REDIS_PID=$!

# Redis Cluster nodes, each in its own directory.
CLUSTER_PIDS=()
for p in "${CLUSTER_PORTS[@]}"; do
  mkdir -p "$TMP/cluster-$p"
  start "$TMP/cluster-$p.log" "$TMP/cluster-$p" \
    "$REDIS_SERVER_BIN" --port "$p" "${REDIS_COMMON[@]}" \
    --cluster-enabled yes --cluster-config-file "$TMP/cluster-$p/nodes-$p.conf"
  CLUSTER_PIDS+=($!)
done

# FerretDB with the SQLite backend (no HTTP debug port, no telemetry).
mkdir -p "$TMP/ferretdb/data" "$TMP/ferretdb/state"
start "$TMP/ferretdb.log" "$TMP/ferretdb" \
  "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$TMP/ferretdb/data/" \
  --listen-addr="127.0.0.1:$FERRET_PORT" --debug-addr=- --telemetry=disable \
  --state-dir="$TMP/ferretdb/state" --log-level=warn
FERRET_PID=$!

wait_for "redis-server :$REDIS_PORT" "$TMP/redis-$REDIS_PORT.log" "$REDIS_PID" redis_ping "$REDIS_PORT"
for i in 0 1 2; do
  p=${CLUSTER_PORTS[$i]}
  wait_for "redis cluster node :$p" "$TMP/cluster-$p.log" "${CLUSTER_PIDS[$i]}" redis_ping "$p"
done
wait_for "ferretdb :$FERRET_PORT" "$TMP/ferretdb.log" "$FERRET_PID" port_open "$FERRET_PORT"

# All ports bound: other runs may pick theirs now.
flock -u 9
exec 9>&-

# Join the three masters into a cluster and wait until every node agrees.
CLUSTER_NODES="$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")"
CLUSTER_NODES="${CLUSTER_NODES%,}"
# (redis-cli waits forever for the join if a node dies: bound it)
timeout --foreground "$READY_TIMEOUT" redis-cli --cluster create ${CLUSTER_NODES//,/ } --cluster-replicas 0 --cluster-yes \
  >"$TMP/cluster-create.log" 2>&1 || fail "redis-cli --cluster create failed" "$TMP/cluster-create.log"
for i in 0 1 2; do
  p=${CLUSTER_PORTS[$i]}
  wait_for "redis cluster state on :$p" "$TMP/cluster-$p.log" "${CLUSTER_PIDS[$i]}" cluster_ok "$p"
done

# FerretDB: a real round trip through the project's mongodb driver (if installed).
mongo_ping() {
  (cd "$ROOT" && CACHEADO_PING_URL="mongodb://127.0.0.1:$FERRET_PORT" node --input-type=module -e '
    import { MongoClient } from "mongodb";
    const c = new MongoClient(process.env.CACHEADO_PING_URL, { serverSelectionTimeoutMS: 2000 });
    try { await c.db("admin").command({ ping: 1 }); } finally { await c.close(); }')
}
if [[ -d "$ROOT/node_modules/mongodb" ]]; then
  wait_for "ferretdb ping :$FERRET_PORT" "$TMP/ferretdb.log" "$FERRET_PID" mongo_ping
else
  log "node_modules/mongodb missing: FerretDB checked by TCP connect only"
fi

export CACHEADO_SERVICES=1
export CACHEADO_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export CACHEADO_REDIS_CLUSTER_NODES="$CLUSTER_NODES"
export CACHEADO_MONGODB_URL="mongodb://127.0.0.1:$FERRET_PORT"
export CACHEADO_REDIS_SERVER_BIN="$REDIS_SERVER_BIN"
export CACHEADO_FERRETDB_BIN="$FERRETDB_BIN"
log "ready in ${SECONDS}s: redis :$REDIS_PORT, cluster :${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[2]}, ferretdb :$FERRET_PORT (logs in $TMP)"

# Run the command in the foreground (keeps stdin and Ctrl-C working); cleanup runs on exit.
set +e
"$@"
status=$?
set -e
exit "$status"
