#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
DUPLEX_SETUP_TESTS=1 scripts/setup.sh
# shellcheck disable=SC1091
source .deps/env.sh
echo "==> building tests"
swift build --build-tests
echo "==> running the Python worker SDK's tests"
PYTHONPATH=sdk/python .deps/venv/bin/python -m unittest discover -s sdk/python/tests -t sdk/python
echo "==> running tests"
set +e
swift test --skip-build 2>&1 | grep --line-buffered -vE "HummingbirdCore\] (Server shutdown error|Waiting on child channel)"
rc=${PIPESTATUS[0]}
echo "==> live fuzz (alone: it saturates the machine for ~2 minutes)"
DUPLEX_LIVE_FUZZ=1 swift test --skip-build --filter LiveFuzzTests 2>&1 | grep --line-buffered -vE "HummingbirdCore\] (Server shutdown error|Waiting on child channel)"
fuzz_rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] && rc=$fuzz_rc
exit "$rc"
