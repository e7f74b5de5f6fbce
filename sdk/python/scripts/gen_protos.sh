#!/bin/sh
# Regenerates duplex_worker/proto/tts_pb2.py and tts_pb2_grpc.py from ../../Protos/tts.proto.
#
# The generated files are committed, so installing or using the SDK never needs grpcio-tools.
# Run this only after Protos/tts.proto changed:
#
#   pip install grpcio-tools==1.85.1     # its protoc (libprotoc 35.1) matches protobuf 7.x
#   sdk/python/scripts/gen_protos.sh     # from anywhere; PYTHON=... picks the interpreter
#
# grpcio-tools writes `import tts_pb2 as tts__pb2` into the gRPC module; inside the package it
# must be a relative import, so the script rewrites that line.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
protos=$(cd "$here/../../Protos" && pwd)
out="$here/duplex_worker/proto"
python=${PYTHON:-python3}

"$python" -m grpc_tools.protoc -I "$protos" --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" "$protos/tts.proto"
sed -i 's/^import tts_pb2 as tts__pb2$/from . import tts_pb2 as tts__pb2/' "$out/tts_pb2_grpc.py"
echo "generated $(ls "$out"/tts_pb2*)"
