import DuplexConfig
import DuplexCore
import DuplexSherpa

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

extension SpeechServices {
    /// A listener (Silero VAD twice, Whisper) for one session's microphone.
    public func makeListener(inputSampleRate: Int) throws(DuplexError) -> any SpeechListener {
        try SpeechInput(inputSampleRate: inputSampleRate, services: self)
    }

    /// The barge-in detector's end-of-speech silence.
    public var bargeInSettleMs: Int { bargeInParameters.minSilenceMs }
}
