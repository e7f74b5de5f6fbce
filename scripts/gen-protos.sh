#!/usr/bin/env bash
# Regenerates Sources/DuplexProto from Protos/*.proto. Run only when a .proto changes;
# the generated code is committed so builds (and CI) never need the protoc plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --scratch-path .build-plugins -c release --product protoc-gen-swift
swift build --scratch-path .build-plugins -c release --product protoc-gen-grpc-swift-2
bin=.build-plugins/release
out=$(mktemp -d)
protoc --proto_path=Protos \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --swift_out="$out" --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  --grpc-swift-2_out="$out" --grpc-swift-2_opt=Visibility=Public,FileNaming=DropPath,Client=true,Server=true \
  Protos/*.proto
for f in "$out"/*.swift; do
  dest="Sources/DuplexProto/$(basename "$f")"
  if ! cmp -s "$f" "$dest"; then cp "$f" "$dest"; echo "updated $dest"; fi
done
rm -rf "$out"
