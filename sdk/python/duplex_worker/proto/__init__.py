"""Generated code for ``Protos/tts.proto`` (``duplex.tts.v1``); see scripts/gen_protos.sh."""
