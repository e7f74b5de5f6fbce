#!/usr/bin/env bash
# Scale-out benchmark: N concurrent TTS sessions against 1, 2 and 3 worker processes that
# register in a local redis-server, routed by one `duplex serve --redis`.
#
#   scripts/bench-scale.sh [--sessions 4,8] [--repeats 3] [--adapter piper] [--model piper-en-us-joe]
#
# Needs a release build (scripts/setup.sh --release) and redis-server. Prints, for each worker
# count, `duplex bench tts` figures: sessions served in real time, first-audio p95, jitter p95.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=4,8
REPEATS=3
ADAPTER=piper
MODEL=piper-en-us-joe
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) SESSIONS=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --adapter) ADAPTER=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
BIN=.build/release/duplex
[ -x "$BIN" ] || { echo "build first: scripts/setup.sh --release" >&2; exit 1; }
# shellcheck disable=SC1091
[ -f .deps/env.sh ] && source .deps/env.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS+=($!)
REDIS=redis://127.0.0.1:$REDIS_PORT
export DUPLEX_REGISTRY_HEARTBEAT_MS=1000 DUPLEX_REGISTRY_TTL_MS=3000 DUPLEX_REGISTRY_RESCAN_MS=1000 DUPLEX_LOGGING_LEVEL=warning

for count in 1 2 3; do
  while [ "$($BIN cluster status --redis "$REDIS" | head -1 | awk '{print $5}')" -lt "$count" ]; do
    port=$(free_port)
    $BIN worker --adapter "$ADAPTER" --default-model "$MODEL" --port "$port" --redis "$REDIS" --name "bench-$port" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
      n=$($BIN cluster status --redis "$REDIS" | grep -c " yes " || true)
      [ "$n" -ge "$count" ] && break
      sleep 0.2
    done
  done
  WS_PORT=$(free_port)
  $BIN serve --port "$WS_PORT" --redis "$REDIS" >/dev/null 2>&1 &
  SERVE=$!
  sleep 2
  echo "=== $count worker process(es)"
  $BIN cluster status --redis "$REDIS" | cut -c1-120
  $BIN bench tts --url "ws://127.0.0.1:$WS_PORT/ws" --sessions "$SESSIONS" --repeats "$REPEATS" --model "$MODEL" --no-local-rtf | grep -E "^ +[0-9]+ |sessions"
  kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
done
