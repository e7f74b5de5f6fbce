import DuplexAudioFilters
import DuplexConfig
import DuplexCore
import DuplexSherpa
import DuplexTurn

/// The models and executors conversation sessions share (one Whisper, one thread each).
public final class SpeechServices: SpeechRecognition {
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
    /// The end-of-turn model (nil: turns end after the VAD's fixed silence).
    public let endOfTurnModel: (any EndOfTurnModel)?
    /// End-of-turn and partial-transcript settings (`turn:`).
    public let turn: TurnSettings
    /// Microphone filters (`input:`): noise suppression and echo cancellation.
    public let input: InputSection
    /// Runs end-of-turn model calls (its own thread: never queued behind Whisper).
    public let turnExecutor = BlockingExecutor(name: "turn", threads: 1, queueCapacity: 64)
    /// Runs partial transcripts, on their own thread so they never delay a final transcript;
    /// a short queue, because a partial that would wait is skipped, not queued.
    public let partialExecutor = BlockingExecutor(name: "asr-partial", threads: 1, queueCapacity: 2)

    /// The turn VAD's settings: with a model, its minimum silence is the probe pause, so
    /// every pause that long reaches the model; without one, the fixed end-of-turn silence.
    public var turnVADParameters: VADParameters {
        guard endOfTurnModel != nil else { return vadParameters }
        var parameters = vadParameters
        parameters.minSilenceMs = turn.probeMs
        return parameters
    }

    /// Loads the end-of-turn model `turn:` names (nil for `turn.model: none`).
    /// - Returns: the model, or nil with a warning to log when it failed and
    ///   `turn.on_model_error` is `fixed_silence`.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`, naming `turn.model`) when it failed and
    ///   `turn.on_model_error` is `fail`.
    public static func loadEndOfTurnModel(_ configuration: DuplexConfiguration) throws(DuplexError) -> (model: (any EndOfTurnModel)?, warning: String?) {
        let turn = configuration.turn
        guard turn.usesModel else { return (nil, nil) }
        do {
            return (try SmartTurnModel(path: turn.modelPath, threads: turn.threads), nil)
        } catch {
            let message = "turn.model: smart-turn could not be loaded from turn.model_path '\(turn.modelPath)': \(error.message)"
            if turn.onModelError == "fixed_silence" {
                return (nil, "\(message) Turns end after the fixed silence instead (turn.on_model_error: fixed_silence).")
            }
            throw DuplexError(
                .modelLoadFailed,
                "\(message) Run scripts/install-models.sh, fix turn.model_path, or set turn.model: none (fixed-silence turns).")
        }
    }

    /// Loads the models named by the configuration (blocking: Whisper takes well under a
    /// second for tiny.en), checking the VAD model by creating one detector.
    public static func load(_ configuration: DuplexConfiguration, endOfTurnModel: (any EndOfTurnModel)? = nil) throws(DuplexError) -> SpeechServices {
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
            bargeInParameters: bargeInParameters(configuration.conversation, turn: parameters),
            endOfTurnModel: endOfTurnModel, turn: TurnSettings(configuration.turn), input: try checkedInput(configuration.input))
    }

    /// The barge-in detector's settings from `conversation:`: never laxer than the turn VAD.
    public static func bargeInParameters(_ conversation: ConversationSection, turn: VADParameters) -> VADParameters {
        VADParameters(
            threshold: max(turn.threshold, Float(conversation.speakingThreshold)),
            minSpeechMs: conversation.bargeInMinSpeechMs, minSilenceMs: 100)
    }

    /// Uses an already loaded recognizer (and end-of-turn model: nil ends turns after the
    /// fixed silence of `vadParameters`).
    public init(
        vadModel: String, vadParameters: VADParameters, recognizer: WhisperRecognizer, bargeInParameters: VADParameters? = nil,
        endOfTurnModel: (any EndOfTurnModel)? = nil, turn: TurnSettings = TurnSettings(TurnSection()), input: InputSection = InputSection()
    ) {
        self.vadModel = vadModel
        self.vadParameters = vadParameters
        self.recognizer = recognizer
        self.bargeInParameters = bargeInParameters ?? Self.bargeInParameters(ConversationSection(), turn: vadParameters)
        self.endOfTurnModel = endOfTurnModel
        self.turn = turn
        self.input = input
    }

    /// Checks the `input:` filters once at start (a missing library fails here, naming
    /// `input.denoise`, instead of in every session).
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) naming the key.
    public static func checkedInput(_ input: InputSection) throws(DuplexError) -> InputSection {
        _ = try DenoiserKind(rawValue: input.denoise)?.makeDenoiser(directory: input.denoiseDir)
        _ = try EchoCancellerKind(rawValue: input.echoCancel)?.makeEchoCanceller(configuration: echoConfiguration(input))
        return input
    }

    /// The echo canceller's settings from `input:`.
    static func echoConfiguration(_ input: InputSection) -> EchoCanceller.Configuration {
        var configuration = EchoCanceller.Configuration()
        configuration.tail = .milliseconds(input.echoTailMs)
        return configuration
    }
}

extension SpeechServices {
    /// A listener (Silero VAD twice, Whisper) for one session's microphone.
    public func makeListener(inputSampleRate: Int) throws(DuplexError) -> any SpeechListener {
        try SpeechInput(inputSampleRate: inputSampleRate, services: self)
    }

    /// A listener that reports partial transcripts when asked (`partial_transcripts: true`).
    public func makeListener(inputSampleRate: Int, partialTranscripts: Bool) throws(DuplexError) -> any SpeechListener {
        try SpeechInput(inputSampleRate: inputSampleRate, services: self, partialTranscripts: partialTranscripts)
    }

    /// The barge-in detector's end-of-speech silence.
    public var bargeInSettleMs: Int { bargeInParameters.minSilenceMs }
}

/// End-of-turn and partial-transcript settings (from `turn:`).
public struct TurnSettings: Sendable, Equatable {
    /// Silence (ms) after which the model is asked.
    public var probeMs: Int
    /// Probability at or above which a turn is complete.
    public var threshold: Float
    /// Silence (ms) that ends a turn whatever the model says.
    public var maxSilenceMs: Int
    /// A pause the model called incomplete is judged again every this-many ms (0: never).
    public var reprobeMs: Int
    /// Partial transcripts at most this often (ms); 0 turns them off.
    public var partialIntervalMs: Int
    /// The partial decode's window (ms of the latest audio).
    public var partialWindowMs: Int

    /// The settings of a `turn:` section.
    public init(_ section: TurnSection) {
        probeMs = section.probeMs
        threshold = Float(section.threshold)
        maxSilenceMs = section.maxSilenceMs
        reprobeMs = section.reprobeMs
        partialIntervalMs = section.partialIntervalMs
        partialWindowMs = section.partialWindowMs
    }
}
