#!/usr/bin/env bash
# Runs a command with Bun first on PATH. Bun comes from the npm package @oven/bun-linux-x64 (the real
# binary the `bun` package installs), pinned here and cached outside the repo, as with-node24.sh does.
set -euo pipefail
version="${CACHEADO_BUN_VERSION:-1.3.9}"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cacheado/bun-$version"
bun_bin="$cache_dir/node_modules/@oven/bun-linux-x64/bin"
if [ ! -x "$bun_bin/bun" ]; then
  echo "with-bun: installing @oven/bun-linux-x64@$version into $cache_dir" >&2
  mkdir -p "$cache_dir"
  npm install --no-save --no-package-lock --silent --prefix "$cache_dir" "@oven/bun-linux-x64@$version" >&2
  chmod +x "$bun_bin/bun"
fi
export PATH="$bun_bin:$PATH"
echo "with-bun: bun $(bun --version)" >&2
exec "$@"
