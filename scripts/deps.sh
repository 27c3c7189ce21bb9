#!/usr/bin/env bash
# Installs the Debian 12 packages hailong needs, only those that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(gcc make pkg-config libevent-dev libsmpp34-dev libhiredis-dev libsqlite3-dev
      libyaml-dev libjansson-dev libutf8proc-dev libsodium-dev libcmocka-dev libsystemd-dev systemd
      redis-server curl python3 nodejs npm clang libclang-rt-14-dev kannel chromium fonts-dejavu-core
      tzdata)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node/npm that is already on PATH (not from Debian) is good enough.
if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install packages (or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's kannel starts its own bearerbox on install where an init system
  # runs: forbid service starts for the install (unless a policy already
  # exists, as in containers); the tests run their own Kannel on free ports.
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  [ "$rc" = 0 ] || exit "$rc"
fi
# The independent SMPP peer of the tests (npm smpp, pinned by tests/peer/package-lock.json).
if [ ! -d tests/peer/node_modules/smpp ]; then
  (cd tests/peer && npm ci --no-audit --no-fund --silent)
fi
