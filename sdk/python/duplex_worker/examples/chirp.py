"""The worker of docs/WORKERS.md: a toy 'voice' (a rising tone per clause) in ~30 lines.

    python -m duplex_worker.examples.chirp --port 7101
    duplex conformance grpc://127.0.0.1:7101

Replace ``load`` and ``synthesize`` with a real model; the SDK does everything else.
"""
import numpy as np

import duplex_worker


class Chirp(duplex_worker.Model):
    """A rising tone per clause, streamed in 100 ms chunks."""

    family = "chirp"
    languages = ["en-us"]

    def load(self):                       # blocking, may be slow; runs on a worker thread
        self.rate = 24_000

    def synthesize(self, text, options):  # one clause; runs on the inference thread
        seconds = 0.08 * len(text.split()) / options.speed
        t = np.arange(int(seconds * self.rate)) / self.rate
        tone = 0.3 * np.sin(2 * np.pi * (300 + 200 * t) * t)
        for start in range(0, len(tone), self.rate // 10):       # stream 100 ms chunks
            yield tone[start:start + self.rate // 10].astype(np.float32), self.rate


if __name__ == "__main__":
    raise SystemExit(duplex_worker.serve(Chirp("chirp-1", tags=["cpu_ok"])))
