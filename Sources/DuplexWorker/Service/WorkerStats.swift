import DuplexCore
import Metrics
import Synchronization

/// Live figures a worker reports in `GetCapabilities` (and, later, in its registry entry):
/// active sessions and syntheses, and rolling p50s of first-audio latency and real-time factor.
public final class WorkerStats: Sendable {
    private struct State {
        var firstAudioMs: [Double] = []
        var realTimeFactors: [Double] = []
        var activeSyntheses = 0
        var lateFrames = 0
    }

    private let state = Mutex(State())
    private let window = 200
    private let firstAudioTimer = Metrics.Timer(label: "duplex_worker_first_audio_seconds")
    private let rtfRecorder = Recorder(label: "duplex_worker_rtf", aggregate: true)
    private let synthesesCounter = Counter(label: "duplex_worker_syntheses_total")
    private let lateFramesCounter = Counter(label: "duplex_worker_late_frames_total")
    private let latenessTimer = Metrics.Timer(label: "duplex_worker_frame_lateness_seconds")
    private let refusedCounter = Counter(label: "duplex_worker_sessions_refused_total", dimensions: [("reason", "overloaded")])

    /// Creates empty statistics.
    public init() {}

    /// Syntheses currently running.
    public var activeSyntheses: Int { state.withLock { $0.activeSyntheses } }
    /// Data frames that left late since the worker started (see ``Pacer``).
    public var lateFrames: Int { state.withLock { $0.lateFrames } }

    func sessionRefused() { refusedCounter.increment() }

    func synthesisStarted() {
        state.withLock { $0.activeSyntheses += 1 }
        synthesesCounter.increment()
    }

    func synthesisEnded(_ figures: SynthesisFigures) {
        state.withLock { s in
            s.activeSyntheses -= 1
            s.lateFrames += figures.lateFrames
            if let first = figures.firstAudio {
                s.firstAudioMs.append(first.millisecondsDouble)
                if s.firstAudioMs.count > window { s.firstAudioMs.removeFirst() }
            }
            s.realTimeFactors += figures.realTimeFactors
            if s.realTimeFactors.count > window { s.realTimeFactors.removeFirst(s.realTimeFactors.count - window) }
        }
        if let first = figures.firstAudio { firstAudioTimer.recordNanoseconds(Int64(first.millisecondsDouble * 1e6)) }
        figures.realTimeFactors.forEach { rtfRecorder.record($0) }
        if figures.lateFrames > 0 {
            lateFramesCounter.increment(by: figures.lateFrames)
            latenessTimer.recordNanoseconds(Int64(figures.maxLateness.millisecondsDouble * 1e6))
        }
    }

    /// Median first-audio latency in milliseconds over the recent window (0 if none).
    public var firstAudioP50: Double { state.withLock { Self.median($0.firstAudioMs) } }
    /// Median real-time factor over the recent window (0 if none).
    public var realTimeFactorP50: Double { state.withLock { Self.median($0.realTimeFactors) } }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
