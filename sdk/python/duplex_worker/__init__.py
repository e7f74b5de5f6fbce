"""Duplex worker SDK: serve any Python TTS model over the Duplex worker ABI
(``duplex.tts.v1.TTSService`` v1.1, gRPC).

Subclass :class:`Model`, then run :func:`serve`::

    import duplex_worker

    class MyModel(duplex_worker.Model):
        def load(self):
            self.net = load_my_network()

        def synthesize(self, text, options):
            yield self.net.speak(text, speed=options.speed), 24000

    if __name__ == "__main__":
        raise SystemExit(duplex_worker.serve(MyModel("my-voice", languages=["en-us"])))

The SDK segments text into clauses, resamples to 48 kHz, normalizes loudness, frames and
paces the audio, and implements sessions, PAUSE/RESUME/STOP, model management, Redis
registration and graceful drain, with the semantics of the Swift worker (docs/ABI.md).
"""

__version__ = "0.1.0"

from .config import WorkerConfig  # noqa: E402
from .errors import DuplexError  # noqa: E402
from .model import AudioChunk, Model  # noqa: E402
from .options import VoiceOptions  # noqa: E402
from .worker import Worker  # noqa: E402
from .cli import make_parser, serve  # noqa: E402

__all__ = ["AudioChunk", "DuplexError", "Model", "VoiceOptions", "Worker", "WorkerConfig", "make_parser", "serve",
           "__version__"]
