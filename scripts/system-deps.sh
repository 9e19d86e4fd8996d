#!/usr/bin/env bash
# Installs the Debian packages hb needs, when missing: bubblewrap (every action runs in a bwrap
# sandbox) and strace (hb build --audit). With --test, also what the tests use besides:
# bazel-bootstrap (Bazel 4.2, offline), a real client of hb's cache server; bazel-bootstrap-source,
# whose reference REAPI .proto files check the field numbers hb writes; Python's cryptography,
# the DSSE/in-toto verifier that is not hb's own code; and Python's yaml, which reads the CI
# template in examples/ci/; and Chromium, headless, which renders hb report's dashboard in a test.
# Root installs with apt-get; anyone else gets the command to run.
set -euo pipefail

want=(bubblewrap:bwrap strace:strace)
[ "${1:-}" = "--test" ] && want+=(bazel-bootstrap:bazel bazel-bootstrap-source:/usr/src/bazel-bootstrap/third_party/remoteapis chromium:chromium)

missing=()
for pair in "${want[@]}"; do
  what="${pair#*:}"
  # a program is looked up on PATH, a data package by a path it installs
  if [[ "$what" == /* ]]; then [ -e "$what" ]; else command -v "$what" >/dev/null 2>&1; fi || missing+=("${pair%%:*}")
done
if [ "${1:-}" = "--test" ]; then
  for pair in python3-cryptography:cryptography python3-yaml:yaml; do
    python3 -c "import ${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
  done
fi
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
