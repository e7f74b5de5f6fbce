#!/usr/bin/env bash
# libFuzzer runs of Duplex's parsers (docs/SECURITY.md#hostile-input).
#
#   scripts/fuzz.sh [TARGET] [libFuzzer flags…]     e.g. scripts/fuzz.sh sse -runs=1000000
#
# Each target is fuzz/targets/<name>.swift compiled with the parser's own source files by
# swiftc -sanitize=fuzzer,address (no package dependencies, so it builds in seconds). The
# corpus in fuzz/corpus/<name> is copied to a scratch folder, so runs never write into the repo.
# Work in progress (issue 13): the SSE parser and the WAV reader have targets so far.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .deps/env.sh ] && source .deps/env.sh
declare -A SOURCES=(
  [sse]="Sources/DuplexLLM/SSE/SSEParser.swift Sources/DuplexLLM/SSE/ServerSentEvent.swift Sources/DuplexLLM/DuplexLLMError.swift"
  [wav]="Sources/DuplexCore/Errors/DuplexError.swift Sources/DuplexDSP/WAVFile.swift"
)
targets=("${!SOURCES[@]}")
if [ $# -gt 0 ] && [ -n "${SOURCES[$1]:-}" ]; then targets=("$1"); shift; fi
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(-max_total_time=10)
out=.build-fuzz
mkdir -p "$out"
for target in "${targets[@]}"; do
  # One module: the parser's files and the modules they import, with `import Duplex…` dropped.
  src="$out/src-$target"
  rm -rf "$src" && mkdir -p "$src"
  index=0
  for file in ${SOURCES[$target]}; do
    index=$((index + 1))
    grep -v '^import Duplex' "$file" > "$src/$index-$(basename "$file")"
  done
  swiftc -sanitize=fuzzer,address -parse-as-library -package-name duplex -O "$src"/*.swift "fuzz/targets/$target.swift" -o "$out/fuzz-$target" 2> "$out/$target.build.log" \
    || { cat "$out/$target.build.log"; exit 1; }
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$target/." "$work/"
  echo "==> fuzz $target ${flags[*]}"
  (cd "$out" && "./fuzz-$target" -max_len=8192 -timeout=10 -rss_limit_mb=2048 "${flags[@]}" "$work") 2>&1 | grep -E "DONE|^Done|ERROR|SUMMARY|crash-|Test unit written" || true
  rm -rf "$work"
  if ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* > /dev/null 2>&1; then echo "fuzz $target found a failing input (in $out)"; exit 1; fi
done
