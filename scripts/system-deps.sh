#!/usr/bin/env bash
# Installs the Debian packages hb and its tests need, when missing: bubblewrap (every action
# runs in a bwrap sandbox) and strace (hb build --audit). Root installs with apt-get; anyone
# else gets the command to run.
set -euo pipefail

PACKAGES=(bubblewrap strace)
COMMANDS=(bwrap strace)

missing=()
for i in "${!PACKAGES[@]}"; do
  command -v "${COMMANDS[$i]}" >/dev/null 2>&1 || missing+=("${PACKAGES[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "hb needs these Debian packages: ${missing[*]}" >&2
  echo "install them as root:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "hb needs: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
  exit 1
fi
echo "installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
