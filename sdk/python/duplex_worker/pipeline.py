"""Turns a stream of text into paced 20 ms frames of 48 kHz audio (port of Swift
``SynthesisPipeline``).

Three stages, talking through :class:`~duplex_worker.channel.Channel` s:

1. the **reader** segments incoming text into speakable clauses (:class:`TextSegmenter`);
2. the **producer** synthesizes each segment — at most ``synthesis_ahead`` segments ahead of
   the one playing — on the inference executor. Each model chunk is trimmed, resampled to
   48 kHz, scaled by the model's loudness gain (soft-limited), converted to s16le, cut into
   1920-byte frames and serialized as wire messages, all on the pool thread; a segment's last
   frame is padded with silence;
3. the **emitter** (the RPC's own task) writes frames on a monotonic clock (:class:`Pacer`),
   honouring PAUSE/RESUME/STOP through the run's :class:`PlaybackGate`, then writes exactly
   one end marker.

When the emitter ends (or the RPC is cancelled) the reader and producer are cancelled; a
model call still running on a pool thread finishes there and its output is discarded.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable, Iterator, List, Optional

import numpy as np

from .channel import Channel
from .dsp.framing import SAMPLE_RATE, EdgeTrimmer, FrameAssembler, to_int16
from .dsp.loudness import soft_limit
from .dsp.resampler import Resampler
from .errors import TEXT_TOO_LONG, DuplexError
from .executor import AHEAD, URGENT, InferenceExecutor
from .frames import END_REASON_COMPLETED, END_REASON_STOPPED, FrameFactory
from .gate import Passage, PlaybackGate
from .manager import LoadedModel
from .model import as_float_mono, audio_chunks
from .options import VoiceOptions
from .pacing import Pacer
from .text.characters import is_letter_or_number
from .text.segmenter import Segment, SegmenterPolicy, TextSegmenter

#: Below this many frames (0.5 s) of audio in hand, synthesis is urgent.
URGENT_BUFFER_FRAMES = 25


class SynthesisRun:
    """Handle on one running synthesis: its id, PAUSE/RESUME/STOP gate and progress."""

    def __init__(self, synthesis_id: str = "") -> None:
        self.id = synthesis_id or str(uuid.uuid4())
        self.gate = PlaybackGate()
        #: Data frames emitted so far.
        self.frames_emitted = 0

    def stop(self) -> None:
        """No further data frames; the stream ends with a STOPPED end marker."""
        self.gate.stop()


@dataclass
class SynthesisFigures:
    """Timing of one synthesis, for the worker's statistics."""

    first_audio: Optional[float] = None          #: seconds from first text to first frame
    real_time_factors: List[float] = field(default_factory=list)  #: per segment


@dataclass
class _Batch:
    """Serialized frames of one segment, as they become ready (a segment may come in several
    batches when the model streams; the last batch of a segment may be empty)."""

    index: int
    frames: List[bytes]


class _Stopped(Exception):
    """Closes the audio channel on STOP, waking an emitter that waits for audio."""


@dataclass
class _Step:
    frames: List[bytes]
    done: bool
    inference_seconds: float = 0.0
    samples: int = 0
    sample_rate: int = 0


class SegmentRenderer:
    """Pool-thread side of the producer for one segment: pulls the model's chunks one at a
    time and turns them into serialized frames. ``step`` and ``close`` are serialized by a
    lock, so a close posted after a cancellation waits for the running step."""

    def __init__(self, loaded: LoadedModel, options: VoiceOptions, factory: FrameFactory, index: int,
                 segment: Segment, continues_sentence: bool) -> None:
        self._loaded = loaded
        self._options = options
        self._factory = factory
        self._index = index
        self._segment = segment
        self._announce: Optional[Segment] = segment
        self._continues = continues_sentence
        self.ends_mid_sentence = bool(segment.text) and is_letter_or_number(segment.text[-1])
        self._chunks: Optional[Iterator] = None
        self._source = None
        self._resampler: Optional[Resampler] = None
        self._trimmer: Optional[EdgeTrimmer] = None
        self._framer = FrameAssembler()
        self._lock = threading.Lock()
        self._closed = False

    def step(self) -> _Step:
        """Renders the next model chunk (or, at the end, the segment's tail)."""
        with self._lock:
            if self._closed:
                return _Step([], True)
            start = time.perf_counter()
            if self._chunks is None:
                self._source = self._loaded.model.synthesize(self._segment.text, self._options)
                self._chunks = audio_chunks(self._source)
            try:
                samples, rate = next(self._chunks)
            except StopIteration:
                return _Step(self._finish(), True, time.perf_counter() - start)
            elapsed = time.perf_counter() - start
            samples, rate = as_float_mono(samples, rate)
            if self._trimmer is None:
                self._trimmer = EdgeTrimmer(self._continues, self.ends_mid_sentence, rate // 100, rate // 50)
            pending = None
            if self._resampler is not None and self._resampler.input_rate != rate:
                pending = self._resampler.flush()  # the model changed rate mid-segment
                self._resampler = None
            if self._resampler is None:
                self._resampler = Resampler(rate, SAMPLE_RATE)
            audio = self._resampler.process(self._trimmer.push(samples))
            if pending is not None and pending.size:
                audio = _concat(pending, audio)
            return _Step(self._frames(audio, pad=False), False, elapsed, samples.size, rate)

    def close(self) -> None:
        """Abandons the segment: closes the model's generator (if it is one)."""
        with self._lock:
            self._closed = True
            closer = getattr(self._source, "close", None)
            self._source = self._chunks = None
        if closer is not None:
            try:
                closer()
            except Exception:
                pass

    def _finish(self) -> List[bytes]:
        self._closed = True
        if self._resampler is None:
            return self._frames(None, pad=True)
        tail = self._resampler.process(self._trimmer.finish()) if self._trimmer is not None else None
        audio = _concat(tail, self._resampler.flush())
        return self._frames(audio, pad=True)

    def _frames(self, audio, pad: bool) -> List[bytes]:
        pcm = []
        if audio is not None and audio.size:
            pcm = self._framer.append(to_int16(soft_limit(audio, self._loaded.gain)))
        if pad:
            pcm += self._framer.flush()
        frames = self._factory.data_frames(pcm, self._index, self._announce)
        if frames:
            self._announce = None
        return frames


def _concat(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if a is None or not a.size:
        return b
    if b is None or not b.size:
        return a
    return np.concatenate((a, b))


class SynthesisPipeline:
    """One synthesis; see the module docstring.

    Args:
        run: the control handle (PAUSE/RESUME/STOP).
        loaded: the model (leased by the caller for the whole run).
        options: the session's voice options.
        executor: where model calls (and the audio processing after them) run.
        session_id: stamped on every frame.
        lead_frames: frames sent ahead of real time at the start and after a pause.
        synthesis_ahead: segments synthesized ahead of the one playing.
        max_characters: most characters the synthesis may receive (``TEXT_TOO_LONG``).
        paced: False sends frames as fast as the client takes them.
    """

    def __init__(self, run: SynthesisRun, loaded: LoadedModel, options: VoiceOptions, executor: InferenceExecutor,
                 session_id: str, lead_frames: int = 3, synthesis_ahead: int = 2, max_characters: int = 1_000_000,
                 paced: bool = True, segmenter_policy: SegmenterPolicy = SegmenterPolicy(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self.loaded = loaded
        self.options = options
        self.executor = executor
        self.lead_frames = lead_frames
        self.synthesis_ahead = max(1, synthesis_ahead)
        self.max_characters = max_characters
        self.paced = paced
        self.segmenter_policy = segmenter_policy
        self.clock = clock
        self.figures = SynthesisFigures()
        self.factory = FrameFactory(session_id, run.id)
        self._segments: Channel[Segment] = Channel(capacity=4096)
        self._audio: Channel[_Batch] = Channel()
        self._playing = 0
        self._progress = asyncio.Event()
        self._first_text: Optional[float] = None

    async def execute(self, first_text: str, first_is_final: bool, more_text: AsyncIterator,
                      write: Callable[[bytes], Awaitable[None]]) -> int:
        """Runs the synthesis; returns the end reason (``END_REASON_COMPLETED``/``STOPPED``).

        Args:
            first_text, first_is_final: the first TextChunk's text and ``is_final``.
            more_text: the rest of the request stream (TextChunk messages).
            write: sends one serialized frame to the client.
        """
        self.run.gate.on_stop(lambda: self._audio.close(_Stopped()))
        reader = asyncio.create_task(self._read(first_text, first_is_final, more_text))
        producer = asyncio.create_task(self._produce())
        try:
            return await self._emit(write)
        finally:
            reader.cancel()
            producer.cancel()
            await asyncio.gather(reader, producer, return_exceptions=True)

    # -- reader ---------------------------------------------------------------------------

    async def _read(self, text: str, is_final: bool, more: AsyncIterator) -> None:
        segmenter = TextSegmenter(self.segmenter_policy)
        total = 0
        try:
            while True:
                if self._first_text is None:
                    self._first_text = self.clock()
                total += len(text)
                if total > self.max_characters:
                    raise DuplexError(TEXT_TOO_LONG, f"A synthesis may receive at most {self.max_characters} characters.")
                for segment in segmenter.append(text):
                    await self._segments.put(segment)
                if is_final:
                    break
                chunk = await anext(more, None)
                if chunk is None:
                    break
                text, is_final = chunk.text, chunk.is_final
            for segment in segmenter.flush():
                await self._segments.put(segment)
            self._segments.close()
        except asyncio.CancelledError:
            self._segments.close()
            raise
        except BaseException as exc:
            # Fail the synthesis now, not when the producer gets to the error.
            self._segments.close(exc)
            self._audio.close(exc)

    # -- producer -------------------------------------------------------------------------

    async def _produce(self) -> None:
        index = 0
        continues_sentence = False
        renderer: Optional[SegmentRenderer] = None
        done = True
        try:
            while (segment := await self._segments.get()) is not None:
                while index > self._playing + self.synthesis_ahead:
                    self._progress.clear()
                    await self._progress.wait()
                renderer = SegmentRenderer(self.loaded, self.options, self.factory, index, segment, continues_sentence)
                done = False
                inference = 0.0
                samples = 0
                rate = 0
                while not done:
                    buffered = self.factory.count - self.run.frames_emitted
                    priority = URGENT if index == 0 or buffered < URGENT_BUFFER_FRAMES else AHEAD
                    step = await self.executor.run(renderer.step, priority=priority)
                    done = step.done
                    inference += step.inference_seconds
                    samples += step.samples
                    rate = step.sample_rate or rate
                    if step.frames or done:
                        await self._audio.put(_Batch(index, step.frames))
                if samples and rate:
                    self.figures.real_time_factors.append(inference / (samples / rate))
                continues_sentence = renderer.ends_mid_sentence
                index += 1
            self._audio.close()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._audio.close(exc)
        finally:
            if renderer is not None and not done:
                # A model call may still run on a pool thread: close its generator after it.
                self.executor.post(renderer.close, priority=AHEAD)

    # -- emitter --------------------------------------------------------------------------

    async def _emit(self, write: Callable[[bytes], Awaitable[None]]) -> int:
        run = self.run
        gate = run.gate
        pacer = Pacer(0.020, self.lead_frames, self.clock)
        reason = END_REASON_COMPLETED
        last_segment = 0
        stopped = False
        while not stopped:
            try:
                batch = await self._audio.get()
            except _Stopped:
                reason = END_REASON_STOPPED
                break
            if batch is None:
                break
            last_segment = batch.index
            if batch.index != self._playing:
                self._playing = batch.index
                self._progress.set()
            for frame in batch.frames:
                if self.paced:
                    await pacer.wait_for_next_frame()
                passage = gate.passage_now() or await gate.pass_()
                if passage is Passage.STOPPED:
                    reason = END_REASON_STOPPED
                    stopped = True
                    break
                if passage is Passage.RESUMED:
                    pacer.reanchor()
                    pacer.next_deadline(self.clock())
                # Counted once past the gate, before the write: a PAUSE or STOP answered
                # while this frame is being written reports it as emitted.
                run.frames_emitted += 1
                await write(frame)
                if run.frames_emitted == 1 and self._first_text is not None:
                    self.figures.first_audio = self.clock() - self._first_text
        if gate.is_stopped:
            reason = END_REASON_STOPPED
        await write(self.factory.end_marker(
            run.frames_emitted + 1, last_segment, reason, pacer.late_frames, int(pacer.max_lateness * 1000)))
        return reason
