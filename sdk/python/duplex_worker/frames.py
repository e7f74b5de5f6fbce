"""Builds the wire ``AudioFrame`` messages of one synthesis, serialized ahead of emission.

Frames leave in order and none is ever skipped (STOP only ends the stream), so a frame's
sequence number is known when it is produced: the producer serializes each frame once, off
the event loop, and the emitter only paces and writes bytes.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

from .dsp.framing import FRAME_MS, SAMPLE_RATE
from .proto import tts_pb2 as pb
from .text.segmenter import Segment

END_REASON_COMPLETED = pb.END_REASON_COMPLETED
END_REASON_STOPPED = pb.END_REASON_STOPPED


class FrameFactory:
    """Numbers and serializes the frames of one synthesis (sequence numbers from 1; the
    ``synthesis_id`` on the first frame and on the end marker)."""

    def __init__(self, session_id: str, synthesis_id: str) -> None:
        self.session_id = session_id
        self.synthesis_id = synthesis_id
        #: Data frames numbered so far.
        self.count = 0

    def data_frames(self, pcm_frames: Iterable[bytes], segment_index: int, start: Optional[Segment]) -> List[bytes]:
        """Serialized data frames for consecutive 1920-byte PCM frames of one segment;
        ``start`` (the segment) is announced on the first of them."""
        out = []
        frame_type = pb.AudioFrame
        for pcm in pcm_frames:
            self.count += 1
            message = frame_type(
                session_id=self.session_id, audio_data=pcm, sample_rate=SAMPLE_RATE, frame_duration_ms=FRAME_MS,
                sequence_number=self.count, segment_index=segment_index)
            if self.count == 1:
                message.synthesis_id = self.synthesis_id
            if start is not None:
                message.segment_start.CopyFrom(
                    pb.SegmentStart(index=segment_index, text=start.text, input_start=start.start, input_end=start.end))
                start = None
            out.append(message.SerializeToString())
        return out

    def end_marker(self, sequence_number: int, segment_index: int, reason: int, late_frames: int = 0,
                   max_lateness_ms: int = 0) -> bytes:
        """The empty final frame (with the synthesis's late-frame count, ABI v1.1)."""
        return pb.AudioFrame(
            session_id=self.session_id, sample_rate=SAMPLE_RATE, frame_duration_ms=FRAME_MS, sequence_number=sequence_number,
            is_final=True, segment_index=segment_index, end_reason=reason, synthesis_id=self.synthesis_id,
            late_frames=late_frames, max_lateness_ms=max_lateness_ms,
        ).SerializeToString()
