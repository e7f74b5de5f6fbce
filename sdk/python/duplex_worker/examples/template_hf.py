"""TEMPLATE — where a Hugging Face-style neural TTS model plugs into a Duplex worker.

This file does not run a model: no weights ship with Duplex, and the model calls below are
placeholders (marked ``TODO``) for the library of your choice — CosyVoice 2, XTTS-v2,
Parler-TTS, F5-TTS, … Copy it, fill in ``load`` and ``synthesize``, and run::

    python my_worker.py --port 7102 --redis redis://127.0.0.1:6379 --checkpoint /models/cosyvoice2 --device cuda:0

What the SDK does for you (so ``synthesize`` should not): segmenting the reply into clauses,
resampling to 48 kHz, loudness normalization to -16 LUFS, 20 ms framing, real-time pacing,
PAUSE/RESUME/STOP, sessions, model loading/eviction, Redis registration and graceful drain.

Guidelines for neural models:

- ``load`` runs once per load on a worker thread; put the weights on ``self.device`` there.
- ``synthesize`` is called once per clause on the inference thread. Yield audio as soon as
  the model has some (streaming decoders: per chunk) — the SDK plays each chunk at once, so
  the first chunk's latency is the worker's first-audio latency.
- Keep ``--inference-threads 1`` unless the model is thread-safe; one GPU model per process
  is the usual deployment (run several worker processes to use several GPUs).
- Tag capabilities honestly: ``gpu``, ``zero_shot`` (voice cloning from a prompt),
  ``expressive``, ``lora``; the orchestrator routes on them.
"""

from __future__ import annotations

import sys
from typing import Iterator, List, Optional

import numpy as np

from duplex_worker import Model, VoiceOptions, make_parser, serve


class HuggingFaceTTS(Model):
    """TEMPLATE: a neural TTS checkpoint served by the SDK (fill in the TODOs).

    Args:
        checkpoint: a local folder or a Hub id, e.g. ``FunAudioLLM/CosyVoice2-0.5B``.
        device: ``cuda:0``, ``cpu``, …
        prompt_wav: for zero-shot models, the reference speaker recording.
        prompt_text: its transcript (CosyVoice-style prompts need it).
    """

    family = "cosyvoice2"          # TODO: your model family
    languages = ("en-us", "zh-cn")  # TODO: what the checkpoint speaks
    sample_rate = 24_000            # TODO: the checkpoint's native rate (any rate works)

    def __init__(self, checkpoint: str, device: str = "cuda:0", model_id: Optional[str] = None,
                 prompt_wav: Optional[str] = None, prompt_text: str = "") -> None:
        tags = ["streaming", "zero_shot", "expressive"] + (["cpu_ok"] if device == "cpu" else ["gpu"])
        super().__init__(model_id or "cosyvoice2-template", device=device, tags=tags,
                         display_name=f"TEMPLATE {checkpoint}", metadata={"checkpoint": checkpoint})
        self.checkpoint = checkpoint
        self.prompt_wav = prompt_wav
        self.prompt_text = prompt_text
        self.engine = None

    def load(self) -> None:
        # TODO: load the weights, for example:
        #   from cosyvoice.cli.cosyvoice import CosyVoice2
        #   self.engine = CosyVoice2(self.checkpoint, load_jit=False, fp16=self.device != "cpu")
        #   self.prompt = load_wav(self.prompt_wav, 16000)
        # or, for XTTS-v2:
        #   from TTS.api import TTS
        #   self.engine = TTS("tts_models/multilingual/multi-dataset/xtts_v2").to(self.device)
        raise NotImplementedError(
            "template_hf.py is a template: implement HuggingFaceTTS.load() for your model (see the TODOs).")

    def synthesize(self, text: str, options: VoiceOptions) -> Iterator:
        # TODO: call the model. A streaming decoder yields as it goes:
        #   for out in self.engine.inference_zero_shot(text, self.prompt_text, self.prompt, stream=True,
        #                                              speed=options.speed):
        #       yield out["tts_speech"].squeeze(0).float().cpu().numpy(), self.sample_rate
        # A model that returns the whole clause at once yields once:
        #   wav = self.engine.tts(text=text, speaker_wav=self.prompt_wav, language=options.voice or "en")
        #   yield np.asarray(wav, dtype=np.float32), self.sample_rate
        # Samples: mono float32 in [-1, 1] (or int16), any sample rate.
        raise NotImplementedError("template_hf.py is a template: implement HuggingFaceTTS.synthesize().")
        yield np.zeros(0, dtype=np.float32), self.sample_rate  # pragma: no cover (makes this a generator)

    def unload(self) -> None:
        # TODO: free GPU memory, e.g. `del self.engine; torch.cuda.empty_cache()`.
        self.engine = None


def main(argv: Optional[List[str]] = None) -> int:
    parser = make_parser("TEMPLATE: a Duplex worker for a Hugging Face-style TTS model.")
    group = parser.add_argument_group("model")
    group.add_argument("--checkpoint", required=True, help="model folder or Hub id")
    group.add_argument("--device", default="cuda:0", help="cuda:0, cpu, … (default cuda:0)")
    group.add_argument("--prompt-wav", help="reference speaker recording (zero-shot models)")
    group.add_argument("--prompt-text", default="", help="the reference recording's transcript")
    return serve(lambda args: HuggingFaceTTS(args.checkpoint, args.device, prompt_wav=args.prompt_wav,
                                             prompt_text=args.prompt_text), argv, parser=parser)


if __name__ == "__main__":
    sys.exit(main())
