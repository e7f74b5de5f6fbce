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
public actor SpeechInput {
    /// What the input noticed. Times are milliseconds of input audio since the stream began.
    public enum Event: Sendable, Equatable {
        /// The user started speaking.
        case speechStarted(atMs: Int)
        /// The user stopped speaking (the end of the speech, not of the trailing silence);
        /// `audio` is the utterance at 16 kHz, ready for ``SpeechInput/transcribe(_:)``.
        case speechEnded(atMs: Int, startMs: Int, audio: [Float])
        /// The barge-in detector (stricter threshold, shorter minimum speech) heard speech:
        /// reported at `atMs`, the input time it was detected, with the speech's onset.
        case bargeInEdge(atMs: Int, onsetMs: Int)
        /// The barge-in detector's speech ended (onset and end of the speech).
        case bargeInEdgeEnded(atMs: Int, onsetMs: Int)
        /// The user paused inside a turn (the barge-in detector heard the speech end, the turn
        /// VAD has not ended the turn yet): the turn's audio so far, for a speculative transcript.
        case speechPaused(atMs: Int, audio: [Float])
    }

    /// What Whisper heard in an utterance, or nil for nothing speakable (empty, or a typical
    /// silence hallucination), with the decode time.
    public nonisolated func transcribe(_ audio: [Float]) async throws(DuplexError) -> (text: String, decodeMs: Int)? {
        let recognizer = services.recognizer
        let started = ContinuousClock.now
        let transcription: Transcription
        do {
            transcription = try await services.asrExecutor.run { recognizer.transcribe(audio) }
        } catch {
            throw DuplexError.wrap(error, as: .internal, "Speech recognition failed.")
        }
        let text = TranscriptFilter.clean(transcription.text)
        return text.isEmpty ? nil : (text, Int(started.duration(to: .now).millisecondsDouble))
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

/// The models and executors conversation sessions share (one Whisper, one thread each).
public final class SpeechServices: Sendable {
    /// Silero model path.
    public let vadModel: String
    /// VAD settings (turn-taking).
    public let vadParameters: VADParameters
    /// The barge-in detector's settings: a stricter threshold and a short minimum speech, so
    /// that speech over a reply pauses it at once while the reply's own echo does not.
    public let bargeInParameters: VADParameters
    /// The shared recognizer.
    public let recognizer: WhisperRecognizer
    /// Runs VAD windows (cheap: ~0.1 ms per 32 ms window).
    public let vadExecutor = BlockingExecutor(name: "vad", threads: 1, queueCapacity: 1024)
    /// Runs Whisper decodes, one at a time.
    public let asrExecutor = BlockingExecutor(name: "asr", threads: 1, queueCapacity: 64)

    /// Loads the models named by the configuration (blocking: Whisper takes well under a
    /// second for tiny.en), checking the VAD model by creating one detector.
    public static func load(_ configuration: DuplexConfiguration) throws(DuplexError) -> SpeechServices {
        var parameters = VADParameters.preset(aggressiveness: configuration.vad.aggressiveness)
        if configuration.vad.threshold > 0 { parameters.threshold = Float(configuration.vad.threshold) }
        if configuration.vad.minSpeechMs > 0 { parameters.minSpeechMs = configuration.vad.minSpeechMs }
        if configuration.vad.minSilenceMs > 0 { parameters.minSilenceMs = configuration.vad.minSilenceMs }
        _ = try VoiceActivityDetector(model: configuration.vad.model, parameters: parameters)
        let recognizer = try WhisperRecognizer(
            modelDirectory: configuration.asr.modelDir, language: configuration.asr.language,
            inference: InferenceOptions(provider: configuration.worker.executionProvider, threads: configuration.asr.threads))
        return SpeechServices(
            vadModel: configuration.vad.model, vadParameters: parameters, recognizer: recognizer,
            bargeInParameters: bargeInParameters(configuration.conversation, turn: parameters))
    }

    /// The barge-in detector's settings from `conversation:`: never laxer than the turn VAD.
    public static func bargeInParameters(_ conversation: ConversationSection, turn: VADParameters) -> VADParameters {
        VADParameters(
            threshold: max(turn.threshold, Float(conversation.speakingThreshold)),
            minSpeechMs: conversation.bargeInMinSpeechMs, minSilenceMs: 100)
    }

    /// Uses an already loaded recognizer.
    public init(vadModel: String, vadParameters: VADParameters, recognizer: WhisperRecognizer, bargeInParameters: VADParameters? = nil) {
        self.vadModel = vadModel
        self.vadParameters = vadParameters
        self.recognizer = recognizer
        self.bargeInParameters = bargeInParameters ?? Self.bargeInParameters(ConversationSection(), turn: vadParameters)
    }
}

/// Drops what Whisper typically "hears" in silence or noise.
public enum TranscriptFilter {
    /// Whole transcripts that are not speech (compared lower-cased, without punctuation).
    static let nonSpeech: Set<String> = [
        "", "you", "thank you", "thanks for watching", "thank you for watching", "bye", "uh", "um", "hmm", "mm",
        "blank audio", "music", "silence", "inaudible", "applause", "laughter",
    ]

    /// The transcript trimmed, or "" when it is not speech (empty, bracketed tags such as
    /// `[BLANK_AUDIO]`, or a typical silence hallucination).
    public static func clean(_ text: String) -> String {
        var kept = ""
        var depth = 0
        for character in text {
            if character == "[" || character == "(" { depth += 1 } else if character == "]" || character == ")" {
                depth = max(0, depth - 1)
            } else if depth == 0 {
                kept.append(character)
            }
        }
        let trimmed = kept.trimmingCharacters(in: .whitespacesAndNewlines)
        let bare = trimmed.lowercased().filter { $0.isLetter || $0 == " " }.trimmingCharacters(in: .whitespaces)
        return nonSpeech.contains(bare) ? "" : trimmed
    }
}
