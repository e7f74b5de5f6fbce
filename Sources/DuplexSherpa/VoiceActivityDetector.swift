import CSherpaOnnx
import DuplexCore
import Foundation

/// Settings of the Silero voice activity detector.
public struct VADParameters: Sendable, Hashable {
    /// Speech probability above which a 32 ms window counts as speech (0–1).
    public var threshold: Float
    /// Speech shorter than this is ignored (coughs, clicks).
    public var minSpeechMs: Int
    /// Silence this long ends a speech segment.
    public var minSilenceMs: Int
    /// Segments longer than this are split (seconds).
    public var maxSpeechSeconds: Float

    /// Creates parameters.
    public init(threshold: Float, minSpeechMs: Int, minSilenceMs: Int, maxSpeechSeconds: Float = 20) {
        self.threshold = threshold
        self.minSpeechMs = minSpeechMs
        self.minSilenceMs = minSilenceMs
        self.maxSpeechSeconds = maxSpeechSeconds
    }

    /// The documented presets, from 0 (catch every word, wait long before ending a turn)
    /// to 3 (only confident speech, end turns quickly):
    ///
    /// | level | threshold | min speech | min silence |
    /// |-------|-----------|------------|-------------|
    /// | 0     | 0.35      | 100 ms     | 800 ms      |
    /// | 1     | 0.45      | 150 ms     | 600 ms      |
    /// | 2     | 0.50      | 250 ms     | 500 ms      |
    /// | 3     | 0.65      | 300 ms     | 300 ms      |
    public static func preset(aggressiveness: Int) -> VADParameters {
        switch aggressiveness {
        case ...0: VADParameters(threshold: 0.35, minSpeechMs: 100, minSilenceMs: 800)
        case 1: VADParameters(threshold: 0.45, minSpeechMs: 150, minSilenceMs: 600)
        case 2: VADParameters(threshold: 0.5, minSpeechMs: 250, minSilenceMs: 500)
        default: VADParameters(threshold: 0.65, minSpeechMs: 300, minSilenceMs: 300)
        }
    }
}

/// What the detector noticed, with times in seconds from the start of the stream.
public enum VADEvent: Sendable, Equatable {
    /// Speech began (reported once it has lasted the minimum speech duration).
    case speechStarted(at: Double)
    /// A speech segment ended. `start`/`end` bound the speech itself; `samples` is the
    /// segment's 16 kHz audio as the detector cut it (with its short padding, which helps ASR).
    case speechEnded(start: Double, end: Double, samples: [Float])
}

/// A streaming Silero VAD (sherpa-onnx) over 16 kHz mono audio.
///
/// Feed audio with ``accept(_:)`` in chunks of any size; it returns the events the chunk
/// caused. One detector serves one audio stream. Calls block (about 0.1 ms of CPU per
/// 32 ms window): run them on a ``BlockingExecutor`` and never concurrently on one detector.
public final class VoiceActivityDetector: @unchecked Sendable {
    /// Input sample rate.
    public static let sampleRate = 16_000
    private static let window = 512

    private let handle: OpaquePointer
    /// The parameters in use.
    public let parameters: VADParameters
    // Mutated only by the (serialized) caller.
    private var processed: Int64 = 0
    private var speaking = false
    private var pending: [Float] = []

    /// Loads the Silero model.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`).
    public init(model: String, parameters: VADParameters, inference: InferenceOptions = InferenceOptions(threads: 1)) throws(DuplexError) {
        let inference = try inference.validated()
        guard FileManager.default.isReadableFile(at: model) else {
            throw DuplexError(.modelLoadFailed, "Silero VAD model '\(model)' is missing; run scripts/setup.sh (or set vad.model).")
        }
        guard (0.01...0.99).contains(parameters.threshold) else {
            throw DuplexError(.invalidConfiguration, "VAD threshold must be between 0.01 and 0.99 (got \(parameters.threshold)).")
        }
        let strings = CStrings()
        var config = SherpaOnnxVadModelConfig()
        config.silero_vad.model = strings(model)
        config.silero_vad.threshold = parameters.threshold
        config.silero_vad.min_speech_duration = Float(parameters.minSpeechMs) / 1000
        config.silero_vad.min_silence_duration = Float(parameters.minSilenceMs) / 1000
        config.silero_vad.max_speech_duration = parameters.maxSpeechSeconds
        config.silero_vad.window_size = Int32(Self.window)
        config.ten_vad.model = strings("")
        config.sample_rate = Int32(Self.sampleRate)
        config.num_threads = Int32(inference.threads)
        config.provider = strings(inference.provider)
        config.debug = 0
        guard let handle = withExtendedLifetime(strings, { SherpaOnnxCreateVoiceActivityDetector(&config, 60) }) else {
            throw DuplexError(.modelLoadFailed, "sherpa-onnx could not load the Silero VAD model '\(model)'.")
        }
        self.handle = handle
        self.parameters = parameters
    }

    deinit {
        SherpaOnnxDestroyVoiceActivityDetector(handle)
    }

    /// Whether speech is in progress.
    public var isSpeaking: Bool { speaking }

    /// Seconds of audio accepted so far.
    public var position: Double { Double(processed) / Double(Self.sampleRate) }

    /// Feeds 16 kHz samples in [-1, 1] and returns the events they caused, in order.
    public func accept(_ samples: [Float]) -> [VADEvent] {
        var events: [VADEvent] = []
        pending.append(contentsOf: samples)
        var offset = 0
        while pending.count - offset >= Self.window {
            pending.withUnsafeBufferPointer { buffer in
                SherpaOnnxVoiceActivityDetectorAcceptWaveform(handle, buffer.baseAddress! + offset, Int32(Self.window))
            }
            offset += Self.window
            processed += Int64(Self.window)
            collect(into: &events)
        }
        pending.removeFirst(offset)
        return events
    }

    /// Ends the stream: a segment still open is closed and reported.
    public func flush() -> [VADEvent] {
        var events: [VADEvent] = []
        if !pending.isEmpty {
            pending.withUnsafeBufferPointer { buffer in
                SherpaOnnxVoiceActivityDetectorAcceptWaveform(handle, buffer.baseAddress!, Int32(buffer.count))
            }
            processed += Int64(pending.count)
            pending.removeAll()
        }
        SherpaOnnxVoiceActivityDetectorFlush(handle)
        collect(into: &events)
        if speaking, !events.contains(where: { if case .speechEnded = $0 { true } else { false } }) {
            events.append(.speechEnded(start: position, end: position, samples: []))
        }
        speaking = false
        return events
    }

    /// Forgets all state (a new stream starts at time 0).
    public func reset() {
        SherpaOnnxVoiceActivityDetectorReset(handle)
        processed = 0
        speaking = false
        pending.removeAll()
    }

    /// The speech inside a detector segment: sherpa pads segments (about 100 ms after the
    /// speech); leading and trailing 10 ms frames far below the segment's peak level are
    /// trimmed (at most 250 ms each side).
    static func speechBounds(in samples: [Float]) -> (Int, Int) {
        let frame = sampleRate / 100
        let frames = samples.count / frame
        guard frames > 2 else { return (0, samples.count) }
        var levels = [Float](repeating: 0, count: frames)
        for index in 0..<frames {
            var sum: Float = 0
            for sample in samples[(index * frame)..<((index + 1) * frame)] { sum += sample * sample }
            levels[index] = (sum / Float(frame)).squareRoot()
        }
        let floor = max(0.002, (levels.max() ?? 0) * 0.03)
        let limit = 25
        var first = 0
        while first < min(limit, frames - 1), levels[first] < floor { first += 1 }
        var last = frames - 1
        while last > max(first, frames - 1 - limit), levels[last] < floor { last -= 1 }
        return (first * frame, min(samples.count, (last + 1) * frame))
    }

    /// `speaking` means a `speechStarted` was reported without its `speechEnded` yet.
    private func collect(into events: inout [VADEvent]) {
        while SherpaOnnxVoiceActivityDetectorEmpty(handle) == 0 {
            guard let segment = SherpaOnnxVoiceActivityDetectorFront(handle) else { break }
            let count = Int(segment.pointee.n)
            let samples = count > 0 && segment.pointee.samples != nil
                ? Array(UnsafeBufferPointer(start: segment.pointee.samples, count: count)) : []
            let start = Double(segment.pointee.start) / Double(Self.sampleRate)
            SherpaOnnxDestroySpeechSegment(segment)
            SherpaOnnxVoiceActivityDetectorPop(handle)
            let (first, last) = Self.speechBounds(in: samples)
            let rate = Double(Self.sampleRate)
            if !speaking { events.append(.speechStarted(at: start + Double(first) / rate)) }
            events.append(.speechEnded(start: start + Double(first) / rate, end: start + Double(last) / rate, samples: samples))
            speaking = false
        }
        if !speaking, SherpaOnnxVoiceActivityDetectorDetected(handle) != 0 {
            speaking = true
            // sherpa reports speech once it has lasted min_speech; date the start back.
            let start = max(0, position - Double(parameters.minSpeechMs) / 1000 - Double(Self.window) / Double(Self.sampleRate))
            events.append(.speechStarted(at: start))
        }
    }
}
