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
exit "$rc"
