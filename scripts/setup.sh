#!/usr/bin/env bash
# Sets up Duplex on a fresh Debian 12 machine (as root, or with sudo available):
# system packages, models and runtimes (scripts/install-models.sh), then the build.
#
#   scripts/setup.sh [--release]
#
# With DUPLEX_SETUP_TESTS=1 (scripts/test.sh sets it) it also installs what the tests
# drive for real: redis-server, chromium and chromium-driver, openssl and curl (TLS tests),
# iproute2 (network namespaces as other hosts).
#
# Idempotent: packages already installed and models already converted are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=debug
[ "${1:-}" = "--release" ] && CONFIG=release

step() { echo "==> $*"; }
fail() { echo "setup: FAILED: $*" >&2; exit 1; }

APT_PACKAGES=(
  pkg-config libespeak-ng-dev espeak-ng-data espeak-ng libsoxr-dev libspeexdsp-dev sox
  libopus-dev libogg-dev libmp3lame-dev libflac-dev libsndfile1-dev
  python3 python3-venv
)
if [ "${DUPLEX_SETUP_TESTS:-0}" = 1 ]; then
  APT_PACKAGES+=(redis-server chromium chromium-driver openssl curl iproute2)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
else
  step "system packages present"
fi

command -v swift >/dev/null || fail "swift is not on PATH (Swift 6.1 or newer is required)"

step "installing runtimes and models"
scripts/install-models.sh || fail "scripts/install-models.sh"

# shellcheck disable=SC1091
source .deps/env.sh
step "building duplex ($CONFIG)"
swift build -c "$CONFIG" --product duplex || fail "swift build"
test -x ".build/$CONFIG/duplex" || fail "swift build did not produce .build/$CONFIG/duplex"
echo "==> ready: .build/$CONFIG/duplex"
