"""Resampling, loudness, limiting and framing."""

import unittest

import numpy as np

from . import support  # noqa: F401  (puts the package on sys.path)
from duplex_worker.dsp.framing import FRAME_BYTES, EdgeTrimmer, FrameAssembler, to_int16
from duplex_worker.dsp.loudness import LoudnessNormalizer, integrated_loudness, soft_limit
from duplex_worker.dsp.resampler import Resampler


def sine(frequency, rate, seconds, amplitude=0.5):
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def measured_frequency(x, rate):
    size = 1 << 21
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), size))
    return np.argmax(spectrum) * rate / size


class ResamplerTests(unittest.TestCase):
    def resample_in_chunks(self, x, rate_in, rate_out, seed=7):
        r = Resampler(rate_in, rate_out)
        rng = np.random.default_rng(seed)
        out, i = [], 0
        boundaries = []
        while i < len(x):
            n = int(rng.integers(1, 4000))
            out.append(r.process(x[i:i + n]))
            boundaries.append(sum(len(o) for o in out))
            i += n
        out.append(r.flush())
        return np.concatenate(out), boundaries

    def test_22050_to_48000_keeps_frequency_and_amplitude(self):
        x = sine(1000, 22050, 1.0)
        y, _ = self.resample_in_chunks(x, 22050, 48000)
        self.assertEqual(len(y), 48000)
        body = y[2400:-2400]
        self.assertAlmostEqual(measured_frequency(body, 48000), 1000, delta=10)       # 1 %
        amplitude = np.sqrt(2 * np.mean(body.astype(np.float64) ** 2))
        self.assertAlmostEqual(amplitude, 0.5, delta=0.005)                             # 1 %
        # Sample-exact against the ideal 48 kHz sine: -80 dB.
        ideal = sine(1000, 48000, 1.0)
        self.assertLess(np.abs(y[100:-100] - ideal[100:-100]).max(), 1e-4)

    def test_chunking_changes_nothing_and_boundaries_do_not_click(self):
        x = sine(440, 22050, 2.0)
        r = Resampler(22050, 48000)
        whole = np.concatenate([r.process(x), r.flush()])
        chunked, boundaries = self.resample_in_chunks(x, 22050, 48000)
        # The same samples (to float32 rounding: long and short runs use different kernels).
        np.testing.assert_allclose(whole, chunked, rtol=0, atol=1e-6)
        # No discontinuity: the step across each boundary is no larger than the sine's own steps.
        steps = np.abs(np.diff(chunked[100:-100].astype(np.float64)))
        limit = steps.max() * 1.0001
        for b in boundaries[:-1]:
            if 100 < b < len(chunked) - 100:
                self.assertLessEqual(abs(float(chunked[b]) - float(chunked[b - 1])), limit)

    def test_downsampling_rejects_aliases(self):
        # 20 kHz at 48 kHz -> 16 kHz would alias to 4 kHz; it must be filtered out.
        x = sine(20000, 48000, 0.5)
        r = Resampler(48000, 16000)
        y = np.concatenate([r.process(x), r.flush()])[200:-200]
        self.assertLess(np.sqrt(np.mean(y.astype(np.float64) ** 2)), 1e-3)

    def test_other_rates(self):
        for rate in (16000, 24000, 44100, 8000):
            x = sine(300, rate, 0.5)
            r = Resampler(rate, 48000)
            y = np.concatenate([r.process(x), r.flush()])
            self.assertEqual(len(y), 24000)
            self.assertAlmostEqual(measured_frequency(y[2000:-2000], 48000), 300, delta=3)

    def test_passthrough(self):
        x = sine(440, 48000, 0.1)
        r = Resampler(48000, 48000)
        np.testing.assert_array_equal(np.concatenate([r.process(x), r.flush()]), x)


class LoudnessTests(unittest.TestCase):
    def test_full_scale_sine_reads_minus_3_lufs(self):
        # BS.1770: a 0 dBFS 997 Hz sine reads -3.01 LUFS.
        self.assertAlmostEqual(integrated_loudness(sine(997, 48000, 3.0, 1.0)), -3.01, delta=0.05)

    def test_known_signal_normalizes_to_minus_16(self):
        quiet = sine(1000, 48000, 3.0, 0.05)
        gain = LoudnessNormalizer().gain(quiet)
        self.assertAlmostEqual(integrated_loudness(soft_limit(quiet, gain)), -16.0, delta=0.5)
        loud = sine(500, 48000, 3.0, 0.9) * np.where(np.arange(144000) % 48000 < 24000, 1.0, 0.2).astype(np.float32)
        gain = LoudnessNormalizer().gain(loud)
        self.assertAlmostEqual(integrated_loudness(soft_limit(loud, gain)), -16.0, delta=0.5)

    def test_gating_ignores_silence(self):
        tone = sine(1000, 48000, 2.0, 0.1)
        short = np.concatenate([np.zeros(48000, np.float32), tone, np.zeros(48000, np.float32)])
        long = np.concatenate([np.zeros(480000, np.float32), tone, np.zeros(480000, np.float32)])
        # Silence is gated out entirely: how much of it there is does not matter.
        self.assertAlmostEqual(integrated_loudness(short), integrated_loudness(long), delta=0.01)
        self.assertAlmostEqual(integrated_loudness(long), integrated_loudness(tone), delta=1.0)
        self.assertIsNone(integrated_loudness(np.zeros(48000, np.float32)))

    def test_soft_limiter_never_clips(self):
        x = np.linspace(-3, 3, 10001, dtype=np.float32)
        y = soft_limit(x, 2.0)
        self.assertLessEqual(np.abs(y).max(), 1.0)
        self.assertEqual(to_int16(y).max(), 32767)                      # full scale, no wrap
        self.assertTrue(np.all(np.diff(y) >= 0))                       # monotonic
        small = np.float32(0.3)
        self.assertEqual(soft_limit(np.array([small]), 2.0)[0], np.float32(0.6))  # linear below the knee


class FramingTests(unittest.TestCase):
    def test_frames_are_1920_bytes_and_the_tail_is_padded(self):
        f = FrameAssembler()
        frames = f.append(to_int16(np.full(1000, 0.5, np.float32)))
        frames += f.append(to_int16(np.full(1000, 0.5, np.float32)))
        frames += f.flush()
        self.assertEqual(len(frames), 3)
        self.assertTrue(all(len(x) == FRAME_BYTES for x in frames))
        tail = np.frombuffer(frames[-1], "<i2")
        self.assertTrue(np.all(tail[:80] == 16384) and np.all(tail[80:] == 0))

    @staticmethod
    def swift_trim(x, trim_start, trim_end, keep_start, keep_end):
        """Swift SilenceTrim.trimEnd then trimStart on the whole segment."""
        loud = np.nonzero(np.abs(x) > 0.003)[0]
        if loud.size == 0:
            return x
        if trim_end:
            x = x[: min(len(x), loud[-1] + 1 + keep_end)]
        if trim_start:
            x = x[max(0, loud[0] - keep_start):]
        return x

    def test_edge_trim_streaming_matches_whole(self):
        silence = np.zeros(500, np.float32)
        sound = sine(440, 22050, 0.05)
        x = np.concatenate([silence, sound, silence, sound, silence])
        for trim_start, trim_end in ((True, True), (False, True), (True, False)):
            whole = EdgeTrimmer(trim_start, trim_end, 100, 200)
            expected = np.concatenate([whole.push(x), whole.finish()])
            streamed = EdgeTrimmer(trim_start, trim_end, 100, 200)
            parts = [streamed.push(x[i:i + 300]) for i in range(0, len(x), 300)] + [streamed.finish()]
            np.testing.assert_array_equal(np.concatenate(parts), expected)
            np.testing.assert_array_equal(expected, self.swift_trim(x, trim_start, trim_end, 100, 200))


if __name__ == "__main__":
    unittest.main()
