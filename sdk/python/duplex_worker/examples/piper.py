"""Reference adapter: Piper voices (``piper-tts``) served as a Duplex worker.

Run it::

    python -m duplex_worker.examples.piper --port 7101 \\
        --voice voicepacks/piper/piper-en-us-joe/en_US-joe-medium.onnx [--redis redis://127.0.0.1:6379]

``--voice`` takes a ``.onnx`` file (its config is ``<file>.json``) or a folder holding one,
and may be repeated to serve several voices (the first is the default). The model id is
``piper-py-<file stem>`` (lower case, ``_`` as ``-``) unless ``--model-id`` names it.
Inference runs on onnxruntime with the provider of ``--provider`` (``cpu`` by default;
``cuda`` needs onnxruntime-gpu).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import sys
from typing import Iterator, List, Optional

from duplex_worker import Model, VoiceOptions, make_parser, serve

_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "coreml": "CoreMLExecutionProvider",
              "directml": "DmlExecutionProvider", "rocm": "ROCMExecutionProvider"}


class PiperModel(Model):
    """One Piper voice.

    Args:
        voice_path: the ``.onnx`` model (or a folder with exactly one).
        config_path: its JSON config (default ``<voice_path>.json``).
        model_id: default ``piper-py-<stem>``.
        provider: onnxruntime execution provider: ``cpu``, ``cuda``, … or a full provider
            name such as ``CUDAExecutionProvider``.
        intra_op_threads: onnxruntime threads per inference call (0: onnxruntime's choice).
        normalize_audio: let Piper peak-normalize each sentence. Off by default: the worker
            applies one loudness gain measured at warmup, which keeps sentences consistent.
    """

    family = "piper"

    def __init__(self, voice_path: str, config_path: Optional[str] = None, model_id: Optional[str] = None,
                 provider: str = "cpu", intra_op_threads: int = 0, normalize_audio: bool = False) -> None:
        voice_path = _resolve_voice(voice_path)
        config_path = config_path or voice_path + ".json"
        with open(config_path, encoding="utf-8") as handle:
            self.config_dict = json.load(handle)
        stem = os.path.basename(voice_path)[: -len(".onnx")]
        language = self.config_dict.get("language", {}).get("code") or self.config_dict.get("espeak", {}).get("voice", "")
        provider_name = _PROVIDERS.get(provider.lower(), provider)
        device = "cpu" if provider_name == "CPUExecutionProvider" else provider.lower().replace("executionprovider", "")
        quality = self.config_dict.get("audio", {}).get("quality")
        dataset = self.config_dict.get("dataset")
        super().__init__(
            model_id or "piper-py-" + stem.lower().replace("_", "-"),
            languages=[language.lower().replace("_", "-")] if language else [],
            tags=["cpu_ok", "streaming"] if device == "cpu" else ["gpu", "streaming"],
            device=device,
            display_name=f"Piper {dataset or stem} ({language}{', ' + quality if quality else ''})",
            sample_rate=int(self.config_dict.get("audio", {}).get("sample_rate", 22050)),
            metadata={"source": "piper-tts (Python)", "provider": provider_name},
            files=[voice_path, config_path],
        )
        self.voice_path = voice_path
        self.config_path = config_path
        self.provider = provider_name
        self.intra_op_threads = intra_op_threads
        self.normalize_audio = normalize_audio
        self.voice = None

    def load(self) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        session = onnxruntime.InferenceSession(self.voice_path, sess_options=options, providers=[self.provider])
        self.voice = PiperVoice(config=PiperConfig.from_dict(self.config_dict), session=session)

    def synthesize(self, text: str, options: VoiceOptions) -> Iterator:
        from piper import SynthesisConfig

        voice = self.voice
        if options.voice and options.voice != voice.config.espeak_voice:
            # The `voice`/`language` option picks the espeak-ng voice used for phonemes.
            voice = dataclasses.replace(voice, config=dataclasses.replace(voice.config, espeak_voice=options.voice))
        config = SynthesisConfig(
            length_scale=voice.config.length_scale / options.speed,
            noise_scale=options.noise_scale, noise_w_scale=options.noise_w, normalize_audio=self.normalize_audio)
        for chunk in voice.synthesize(text, config):  # one chunk per sentence
            yield chunk.audio_float_array, chunk.sample_rate

    def unload(self) -> None:
        self.voice = None


def _resolve_voice(path: str) -> str:
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "*.onnx")))
        if len(found) != 1:
            raise ValueError(f"{path}: expected one .onnx voice, found {len(found)}")
        return found[0]
    if not path.endswith(".onnx") or not os.path.isfile(path):
        raise ValueError(f"{path}: not a Piper .onnx voice")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    parser = make_parser("A Duplex worker serving Piper voices (piper-tts).")
    piper = parser.add_argument_group("piper")
    piper.add_argument("--voice", action="append", required=True,
                       help="a Piper .onnx voice (or a folder with one); repeat for several")
    piper.add_argument("--model-id", action="append", default=[],
                       help="model id for the matching --voice (default piper-py-<stem>)")
    piper.add_argument("--provider", default="cpu", help="onnxruntime provider: cpu, cuda, … (default cpu)")
    piper.add_argument("--intra-op-threads", type=int, default=0, help="onnxruntime threads per call (0: default)")
    piper.add_argument("--piper-normalize", action="store_true", help="let Piper peak-normalize each sentence")

    def models(args) -> List[PiperModel]:
        ids = list(args.model_id) + [None] * len(args.voice)
        return [PiperModel(voice, model_id=ids[i], provider=args.provider, intra_op_threads=args.intra_op_threads,
                           normalize_audio=args.piper_normalize) for i, voice in enumerate(args.voice)]

    return serve(models, argv, parser=parser)


if __name__ == "__main__":
    sys.exit(main())
