import DuplexDSP

/// Where the microphone's speech energy stops and starts, in 10 ms frames of 16 kHz input:
/// the early signal of a pause (Silero closes a segment only ~200 ms after the energy ends).
///
/// A frame is quiet below `max(floor, 3 % of the turn's loudest frame)` (−30 dB under the
/// speech, and never above a whisper-level floor); speech resumes after 30 ms of loud frames.
/// Input ms are derived from the samples fed, so tests drive it without a clock.
struct PauseDetector: Sendable {
    /// Samples per frame (10 ms at 16 kHz).
    static let frame = 160
    /// Absolute quiet level (RMS, full scale 1): about −49 dBFS.
    static let floor: Float = 0.0035
    /// Loud frames in a row that count as speech again.
    static let resumeFrames = 3

    /// Input ms at which the current quiet stretch began (nil while loud).
    private(set) var quietSinceMs: Int?
    /// Where speech resumed after the latest quiet stretch (reported once).
    private(set) var resumedAtMs: Int?
    private var peak: Float = 0
    private var loudRun = 0
    private var pending: [Float] = []
    private var framesSeen = 0

    /// Feeds 16 kHz samples (any count).
    mutating func accept(_ samples: [Float]) {
        resumedAtMs = nil
        pending += samples
        var offset = 0
        while pending.count - offset >= Self.frame {
            let level = LoudnessMeter.rms(pending[offset..<(offset + Self.frame)])
            let atMs = framesSeen * 10
            framesSeen += 1
            offset += Self.frame
            peak = max(peak, level)
            if level < max(Self.floor, peak * 0.03) {
                loudRun = 0
                if quietSinceMs == nil { quietSinceMs = atMs }
            } else {
                loudRun += 1
                if loudRun >= Self.resumeFrames, let quiet = quietSinceMs {
                    quietSinceMs = nil
                    resumedAtMs = max(quiet, atMs - 10 * (Self.resumeFrames - 1))
                }
            }
        }
        pending.removeFirst(offset)
    }

    /// A new turn began: its loudness is measured afresh.
    mutating func turnStarted() {
        peak = 0
    }
}
