import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexSherpa
import Foundation

/// Turns one client's microphone stream into speech events and transcripts: s16le PCM at the
/// client's rate → 16 kHz → Silero VAD → utterance → Whisper.
///
/// The building block of conversation mode. Calls are serialized by the actor; VAD and
/// Whisper run on the shared ``SpeechServices`` executors, never on the event loop.
public actor SpeechInput: SpeechListener {
    /// What the input noticed.
    public typealias Event = SpeechEvent

    /// What Whisper heard in an utterance, or nil for nothing speakable (empty, or a typical
    /// silence hallucination), with the decode time.
    public nonisolated func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript? {
        let recognizer = services.recognizer
        let started = ContinuousClock.now
        let transcription: Transcription
        do {
            transcription = try await services.asrExecutor.run { recognizer.transcribe(audio) }
        } catch {
            throw DuplexError.wrap(error, as: .internal, "Speech recognition failed.")
        }
        let text = TranscriptFilter.clean(transcription.text)
        return text.isEmpty ? nil : Transcript(text: text, decodeMs: Int(started.duration(to: .now).millisecondsDouble))
    }

    /// The client's sample rate.
    public let inputSampleRate: Int
    private nonisolated let services: SpeechServices
    private let vad: VoiceActivityDetector
    private let edge: VoiceActivityDetector
    private let resampler: Resampler
    /// The last ~20 s of 16 kHz input (for speculative transcripts), and where the current
    /// turn began (input ms) while the turn VAD hears speech.
    private var recent: [Float] = []
    private var recentStart = 0
    private var turnStartMs: Int?
    private static let recentLimit = VoiceActivityDetector.sampleRate * 25
    private var oddByte: UInt8?
    private var received = 0
    private let clockStart = ContinuousClock.now

    /// Rates a client may declare.
    public static let supportedRates: Set<Int> = [8000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]
    /// Input may run ahead of real time by this much (network bursts) before it is refused.
    public let burstAllowance: Duration

    /// Creates an input for one session.
    /// - Throws: ``DuplexError`` (`invalidMessage` for an unsupported rate, `modelLoadFailed` for the VAD).
    public init(inputSampleRate: Int, services: SpeechServices, burstAllowance: Duration = .seconds(2)) throws(DuplexError) {
        guard Self.supportedRates.contains(inputSampleRate) else {
            throw DuplexError(
                .invalidMessage,
                "input_sample_rate \(inputSampleRate) is not supported; use one of \(Self.supportedRates.sorted().map(String.init).joined(separator: ", ")).")
        }
        self.inputSampleRate = inputSampleRate
        self.services = services
        self.burstAllowance = burstAllowance
        self.vad = try VoiceActivityDetector(model: services.vadModel, parameters: services.vadParameters)
        self.edge = try VoiceActivityDetector(model: services.vadModel, parameters: services.bargeInParameters)
        self.resampler = try Resampler(from: inputSampleRate, to: VoiceActivityDetector.sampleRate)
    }

    /// Milliseconds of input audio received so far.
    public var positionMs: Int { received * 1000 / inputSampleRate }

    /// Feeds a chunk of s16le mono PCM (any size; an odd trailing byte is kept for the next chunk).
    /// - Throws: ``DuplexError`` (`invalidAudio`) when audio arrives faster than real time
    ///   beyond ``burstAllowance``.
    public func accept(_ pcm: Data) async throws(DuplexError) -> [Event] {
        var bytes = pcm
        if let odd = oddByte {
            bytes.insert(odd, at: bytes.startIndex)
            oddByte = nil
        }
        if bytes.count % 2 == 1 { oddByte = bytes.removeLast() }
        received += bytes.count / 2
        let audioTime = Duration.milliseconds(received * 1000 / inputSampleRate)
        if audioTime > clockStart.duration(to: .now) + burstAllowance {
            throw DuplexError(
                .invalidAudio,
                "Audio arrives faster than real time (\(audioTime) of audio in \(clockStart.duration(to: .now))); send it at the pace it is recorded.")
        }
        let samples = bytes.withUnsafeBytes { SampleConversion.float(fromLittleEndianBytes: $0) }
        let at16k = resampler.process(samples)
        return try await detect(at16k, flush: false)
    }

    /// Ends the stream: an utterance still open is closed and transcribed.
    public func finish() async throws(DuplexError) -> [Event] {
        try await detect(resampler.flush(), flush: true)
    }

    private func detect(_ samples: [Float], flush: Bool) async throws(DuplexError) -> [Event] {
        recent += samples
        if recent.count > Self.recentLimit {
            let drop = recent.count - Self.recentLimit * 4 / 5
            recent.removeFirst(drop)
            recentStart += drop
        }
        let vad = self.vad, edge = self.edge
        let detected: Detected
        do {
            detected = try await services.vadExecutor.run {
                // The barge-in edge first: it is the one that must act fastest.
                let edgeEvents = edge.accept(samples) + (flush ? edge.flush() : [])
                return Detected(edge: edgeEvents, turn: vad.accept(samples) + (flush ? vad.flush() : []), edgeSpeaking: edge.isSpeaking)
            }
        } catch {
            throw DuplexError.wrap(error, as: .internal, "Voice activity detection failed.")
        }
        let nowMs = positionMs
        var events: [Event] = []
        var paused = false
        for event in detected.edge {
            switch event {
            case .speechStarted(let at): events.append(.bargeInEdge(atMs: nowMs, onsetMs: Int(at * 1000)))
            case .speechEnded(let start, let end, _):
                events.append(.bargeInEdgeEnded(atMs: Int(end * 1000), onsetMs: Int(start * 1000)))
                paused = true
            }
        }
        for event in detected.turn {
            switch event {
            case .speechStarted(let at):
                turnStartMs = Int(at * 1000)
                events.append(.speechStarted(atMs: Int(at * 1000)))
            case .speechEnded(let start, let end, let audio):
                turnStartMs = nil
                paused = false
                events.append(.speechEnded(atMs: Int(end * 1000), startMs: Int(start * 1000), audio: audio))
            }
        }
        if paused, let turnStartMs, !detected.edgeSpeaking {
            // From 300 ms before the turn's onset to now (the end of speech plus the hangover).
            let rate = VoiceActivityDetector.sampleRate
            let first = max(recentStart, (turnStartMs - 300) * rate / 1000) - recentStart
            if first < recent.count { events.append(.speechPaused(atMs: nowMs, audio: Array(recent[first...]))) }
        }
        return events
    }
}

private struct Detected: Sendable {
    var edge: [VADEvent]
    var turn: [VADEvent]
    var edgeSpeaking: Bool
}
