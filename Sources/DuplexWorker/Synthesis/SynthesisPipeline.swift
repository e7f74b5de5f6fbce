import DuplexCore
import DuplexDSP
import Foundation
import Synchronization

/// A piece of text arriving for a synthesis.
public struct TextPiece: Sendable {
    /// The text (may be a single token).
    public var text: String
    /// True on the last piece: flush everything.
    public var isFinal: Bool

    /// Creates a piece.
    public init(text: String, isFinal: Bool) {
        self.text = text
        self.isFinal = isFinal
    }
}

/// A frame leaving the pipeline.
public struct PipelineFrame: Sendable {
    /// s16le mono 48 kHz PCM (1920 bytes for data frames; empty for the end marker).
    public var pcm: Data
    /// 1-based sequence number within the synthesis.
    public var sequence: UInt64
    /// Index of the text segment the frame belongs to.
    public var segmentIndex: UInt32
    /// True for the end marker.
    public var isFinal: Bool
    /// Why the synthesis ended (set on the end marker).
    public var endReason: EndReason?
    /// Set on the first frame of each segment: the segment's text and its range in the input
    /// (ABI v1.1 `SegmentStart`).
    public var segmentStart: TextSegmenter.Segment?
    /// Set on the end marker: data frames that left late, and the worst lateness.
    public var late: (frames: Int, worst: Duration)?
}

/// Why a synthesis ended.
public enum EndReason: Sendable, Equatable {
    /// All text was spoken.
    case completed
    /// STOP (or a replacing synthesis) ended it.
    case stopped
}

/// Handle on a running synthesis: PAUSE/RESUME/STOP it and read its progress.
public final class SynthesisRun: Sendable {
    /// The synthesis id (ABI v1.1): chosen by the client or assigned by the worker.
    public let id: String
    /// Pause/resume/stop state.
    public let gate = PlaybackGate()
    private let emitted = Atomic<UInt64>(0)
    private let stopHandlers = Mutex<[@Sendable () -> Void]?>([])

    /// Creates a handle.
    public init(id: String = UUID().uuidString.lowercased()) {
        self.id = id
    }

    /// Stops the synthesis: no further data frames; the stream ends with an end marker.
    public func stop() {
        gate.stop()
        let handlers = stopHandlers.withLock { handlers in
            defer { handlers = nil }
            return handlers ?? []
        }
        handlers.forEach { $0() }
    }

    /// Registers work to do on ``stop()`` (runs at once if already stopped).
    func onStop(_ handler: @escaping @Sendable () -> Void) {
        let runNow = stopHandlers.withLock { handlers -> Bool in
            guard handlers != nil else { return true }
            handlers!.append(handler)
            return false
        }
        if runNow { handler() }
    }

    /// Data frames emitted so far.
    public var framesEmitted: UInt64 { emitted.load(ordering: .relaxed) }

    func countFrame() { emitted.add(1, ordering: .relaxed) }
}

/// Timing figures of one synthesis, reported to the worker's statistics.
public struct SynthesisFigures: Sendable {
    /// First text received → first frame handed to the transport.
    public var firstAudio: Duration?
    /// Inference time / audio duration, per segment.
    public var realTimeFactors: [Double] = []
    /// Data frames that left after the listener's buffer ran dry (see ``Pacer``).
    public var lateFrames = 0
    /// The worst lateness of a late frame.
    public var maxLateness: Duration = .zero
    /// Whether the synthesis was paced in real time.
    public var paced = true
}

/// Turns a stream of text pieces into paced 20 ms frames of 48 kHz audio:
///
/// 1. the **reader** segments incoming text into speakable clauses (``TextSegmenter``);
/// 2. the **producer** synthesizes each segment (at most `synthesisAhead` segments ahead
///    of playback), resamples to 48 kHz, applies the voice's loudness gain and cuts frames;
///    each inference call carries its deadline (``InferenceUrgency``): the first segment is
///    needed now, a later one when the audio already synthesized runs out, less `margin`;
/// 3. the **emitter** hands frames out on a monotonic clock (``Pacer``), honouring
///    PAUSE/RESUME/STOP through the run's ``PlaybackGate``, then emits one end marker.
///
/// With `options.pacing == false` the emitter does not pace and every inference call is
/// ``InferenceUrgency/unpaced``: frames leave as fast as they are synthesized.
///
/// The three are children of one task group: when the emitter ends, the others are cancelled.
public struct SynthesisPipeline<C: Clock & Sendable>: Sendable where C.Duration == Duration {
    /// The voice and its calibration.
    public var model: LoadedModel
    /// Per-session voice options.
    public var options: VoiceOptions
    /// Frames sent ahead of real time at the start and after a pause.
    public var leadFrames: Int
    /// Segments synthesized ahead of playback.
    public var synthesisAhead: Int
    /// Most characters one synthesis may receive.
    public var maxCharacters: Int
    /// How long before the listener's audio runs out a later segment's inference is due.
    public var margin: Duration
    /// The clock used for pacing.
    public var clock: C

    /// Creates a pipeline.
    public init(
        model: LoadedModel, options: VoiceOptions, leadFrames: Int, synthesisAhead: Int, maxCharacters: Int,
        margin: Duration = .milliseconds(200), clock: C
    ) {
        self.model = model
        self.options = options
        self.leadFrames = leadFrames
        self.synthesisAhead = synthesisAhead
        self.maxCharacters = maxCharacters
        self.margin = margin
        self.clock = clock
    }

    /// When a segment's audio is needed: the first one now; a later one when the frames
    /// synthesized but not yet emitted (plus the lead the listener holds) have played, less
    /// the margin. Unpaced syntheses are never urgent.
    static func urgency(segment index: Int, bufferedFrames: Int, leadFrames: Int, margin: Duration, paced: Bool) -> InferenceUrgency {
        guard paced else { return .unpaced }
        guard index > 0 else { return .now }
        let playable = OutputFormat.frameDuration * max(0, bufferedFrames + leadFrames)
        return .paced(slack: max(.zero, playable - margin))
    }

    private struct SegmentAudio: Sendable {
        var index: UInt32
        var frames: [Data]
        var segment: TextSegmenter.Segment
    }

    private enum Child: Sendable { case reader, producer, emitter }

    /// Runs the synthesis.
    /// - Parameters:
    ///   - run: the control handle (PAUSE/RESUME/STOP).
    ///   - nextText: returns the next text piece, or nil when the input ends.
    ///   - emit: delivers a frame to the transport.
    /// - Returns: why the synthesis ended, and its timing figures.
    public func run(
        _ run: SynthesisRun,
        nextText: @escaping @Sendable () async throws -> TextPiece?,
        emit: @escaping @Sendable (PipelineFrame) async throws -> Void
    ) async throws -> (EndReason, SynthesisFigures) {
        let segments = AsyncBoundedQueue<TextSegmenter.Segment>(capacity: 4096)
        let audio = AsyncBoundedQueue<SegmentAudio>(capacity: synthesisAhead)
        let figures = Locked(SynthesisFigures())
        let firstText = Locked<C.Instant?>(nil)
        let outcome = Locked<EndReason>(.completed)
        let clock = self.clock
        // STOP must also wake an emitter that is waiting for audio (e.g. for more text).
        run.onStop { audio.finish(throwing: CancellationError()) }

        try await withThrowingTaskGroup(of: Child.self) { group in
            group.addTask {
                // Reader: text → segments.
                var segmenter = TextSegmenter()
                var total = 0
                do {
                    while let piece = try await nextText() {
                        firstText.withLock { if $0 == nil { $0 = clock.now } }
                        total += piece.text.count
                        guard total <= maxCharacters else {
                            throw DuplexError(.textTooLong, "A synthesis may receive at most \(maxCharacters) characters.")
                        }
                        for segment in segmenter.appendSegments(piece.text) { try await segments.send(segment) }
                        if piece.isFinal { break }
                    }
                    for segment in segmenter.flushSegments() { try await segments.send(segment) }
                    segments.finish()
                } catch {
                    segments.finish(throwing: error)
                    // Cancelled because the emitter is done (or STOP): not a failure.
                    if Task.isCancelled || run.gate.isStopped { return .reader }
                    throw error
                }
                return .reader
            }
            group.addTask {
                // Producer: segments → frames, a bounded number of segments ahead.
                do {
                    try await produce(run, segments: segments, audio: audio, figures: figures)
                    audio.finish()
                } catch {
                    audio.finish(throwing: error)
                    if Task.isCancelled || run.gate.isStopped { return .producer }
                    throw error
                }
                return .producer
            }
            group.addTask {
                // Emitter: paced frames out, then the end marker.
                let reason = try await emitFrames(run, audio: audio, firstText: firstText, figures: figures, emit: emit)
                outcome.withLock { $0 = reason }
                return .emitter
            }
            for try await child in group where child == .emitter {
                group.cancelAll()
            }
        }
        return (outcome.withLock { $0 }, figures.withLock { $0 })
    }

    private func produce(
        _ run: SynthesisRun, segments: AsyncBoundedQueue<TextSegmenter.Segment>, audio: AsyncBoundedQueue<SegmentAudio>,
        figures: Locked<SynthesisFigures>
    ) async throws {
        let resampler = try Resampler(from: model.voice.sampleRate, to: OutputFormat.sampleRate)
        var framer = FrameAssembler()
        var index: UInt32 = 0
        var continuesSentence = false
        var producedFrames = 0
        let inferenceClock = ContinuousClock()
        while let next = try await segments.next() {
            let segment = next.text
            let start = inferenceClock.now
            let urgency = Self.urgency(
                segment: Int(index), bufferedFrames: producedFrames - Int(run.framesEmitted), leadFrames: leadFrames, margin: margin,
                paced: options.pacing)
            var samples = try await model.voice.synthesize(segment, options: options, urgency: urgency)
            let elapsed = inferenceClock.now - start
            if !samples.isEmpty {
                let seconds = Double(samples.count) / Double(model.voice.sampleRate)
                figures.withLock { $0.realTimeFactors.append(elapsed.millisecondsDouble / 1000 / seconds) }
            }
            // A segment cut mid-sentence (for fast first audio) joins the next one without the
            // silence the voice pads each utterance with, so the cut is not heard as a pause.
            let endsMidSentence = segment.last.map { $0.isLetter || $0.isNumber } ?? false
            if endsMidSentence { SilenceTrim.trimEnd(&samples, keep: model.voice.sampleRate / 50) }
            if continuesSentence { SilenceTrim.trimStart(&samples, keep: model.voice.sampleRate / 100) }
            continuesSentence = endsMidSentence
            samples = resampler.process(samples) + resampler.flush()
            LoudnessNormalizer.apply(gain: model.gain, to: &samples)
            var frames: [Data] = []
            frames.reserveCapacity(samples.count / OutputFormat.samplesPerFrame + 1)
            framer.append(SampleConversion.int16(from: samples)) { frame in
                frames.append(frame.withUnsafeBytes { Data($0) })
            }
            if var tail = framer.flush() {
                // Pad the segment's last frame with silence so every data frame is a full 20 ms.
                tail += repeatElement(0, count: OutputFormat.samplesPerFrame - tail.count)
                frames.append(tail.withUnsafeBytes { Data($0) })
            }
            producedFrames += frames.count
            try await audio.send(SegmentAudio(index: index, frames: frames, segment: next))
            index += 1
        }
    }

    private func emitFrames(
        _ run: SynthesisRun, audio: AsyncBoundedQueue<SegmentAudio>, firstText: Locked<C.Instant?>,
        figures: Locked<SynthesisFigures>, emit: @Sendable (PipelineFrame) async throws -> Void
    ) async throws -> EndReason {
        var pacer = Pacer(clock: clock, interval: OutputFormat.frameDuration, lead: leadFrames)
        var sequence: UInt64 = 0
        var lastSegment: UInt32 = 0
        var reason = EndReason.completed
        emitting: while true {
            let next: SegmentAudio?
            do {
                next = try await audio.next()
            } catch is CancellationError {
                reason = .stopped
                break
            }
            guard let segment = next else { break }
            lastSegment = segment.index
            for (offset, frame) in segment.frames.enumerated() {
                if options.pacing { try await pacer.waitForNextFrame() }
                switch await run.gate.pass() {
                case .stopped:
                    reason = .stopped
                    break emitting
                case .resumed:
                    pacer.reanchor()
                    _ = pacer.nextDeadline(now: clock.now)
                case .proceed:
                    break
                }
                sequence += 1
                // Counted once past the gate, before the write: a PAUSE or STOP answered while
                // this frame is being written reports it as emitted.
                run.countFrame()
                try await emit(PipelineFrame(
                    pcm: frame, sequence: sequence, segmentIndex: segment.index, isFinal: false, endReason: nil,
                    segmentStart: offset == 0 ? segment.segment : nil))
                if sequence == 1, let start = firstText.withLock({ $0 }) {
                    let latency = start.duration(to: clock.now)
                    figures.withLock { $0.firstAudio = latency }
                }
            }
        }
        if run.gate.isStopped { reason = .stopped }
        let (late, lateness, paced) = (pacer.lateFrames, pacer.maxLateness, options.pacing)
        figures.withLock {
            $0.lateFrames = late
            $0.maxLateness = lateness
            $0.paced = paced
        }
        sequence += 1
        try await emit(PipelineFrame(
            pcm: Data(), sequence: sequence, segmentIndex: lastSegment, isFinal: true, endReason: reason, late: (late, lateness)))
        return reason
    }
}
