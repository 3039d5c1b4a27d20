#!/usr/bin/env bash
# Install the pinned third-party clients (package-lock.json) into the build tree: meson runs this as
# a custom target, never globally. Args: source dir (this folder), destination dir, stamp file.
set -euo pipefail
src=$1 dest=$2 stamp=$3
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$src/ccxt_book.mjs" "$dest/"
if ! cmp -s "$src/package-lock.json" "$dest/.installed-lock.json" 2>/dev/null \
    || [ ! -d "$dest/node_modules/ccxt" ]; then
    (cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    cp "$src/package-lock.json" "$dest/.installed-lock.json"
fi
touch "$stamp"
