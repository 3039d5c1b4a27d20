#!/usr/bin/env bash
# Install every Debian 12 package bfmon needs to build, test, benchmark and run.
# Idempotent: does nothing when everything is present. Works as root or through sudo.
set -euo pipefail

packages=(
    # build
    meson ninja-build pkg-config gcc clang
    # libraries
    libncurses-dev libwebsockets-dev libjansson-dev libcurl4-openssl-dev libssl-dev
    zlib1g-dev libzstd-dev
    # tests, sanitizers, fuzzing, terminal tests
    libcriterion-dev libclang-rt-14-dev valgrind tmux
    # style
    clang-format
    # the third-party client test (ccxt from npm, installed into the build tree)
    nodejs
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Debian ships npm apart from nodejs; a Node.js from elsewhere (nodesource) bundles its own.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
