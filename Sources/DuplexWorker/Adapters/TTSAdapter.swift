import DuplexCore

/// Per-session (and per-request) voice options, parsed from `StartSession.options`.
public struct VoiceOptions: Sendable, Hashable {
    /// Speaking-rate multiplier, 0.5–2.0 (1 = the voice's natural rate).
    public var speed: Double = 1
    /// Overrides the voice's language/voice where the family supports it (espeak voice name).
    public var voice: String?
    /// Piper/VITS noise scale override.
    public var noiseScale: Double?
    /// Piper/VITS noise width override.
    public var noiseWidth: Double?
    /// False for clients that do not play in real time (files, batch jobs): frames flow as
    /// fast as they are synthesized, at the lowest inference priority. Default true.
    public var pacing = true
    /// `force` (ABI v1.1 `admission`): the router's last resort, so the worker serves the
    /// session even when it predicts it cannot start replies in time. Default strict.
    public var forceAdmission = false
    /// Whose synthesis it is: the client's API key as the orchestrator names it in the
    /// `duplex-tenant` metadata of `Synthesize` (not an option of the map). Adapters pass it
    /// to the inference scheduler, which shares the cores fairly between tenants.
    public var tenant: String?

    /// Default options.
    public init() {}

    /// Parses the option map of a `StartSession` request.
    /// - Throws: ``DuplexError`` (`invalidMessage`) naming the bad option.
    public init(parsing options: [String: String]) throws(DuplexError) {
        for (key, value) in options {
            switch key {
            case "speed":
                guard let v = Double(value), (0.5...2.0).contains(v) else {
                    throw DuplexError(.invalidMessage, "Option 'speed' must be a number from 0.5 to 2.0 (got '\(value)').")
                }
                speed = v
            case "voice", "language":
                guard !value.isEmpty, value.count <= 64 else {
                    throw DuplexError(.invalidMessage, "Option '\(key)' must be a voice or language name.")
                }
                voice = value
            case "noise_scale", "noise_w":
                guard let v = Double(value), (0...2).contains(v) else {
                    throw DuplexError(.invalidMessage, "Option '\(key)' must be a number from 0 to 2 (got '\(value)').")
                }
                if key == "noise_scale" { noiseScale = v } else { noiseWidth = v }
            case "pacing":
                switch value.lowercased() {
                case "true", "1", "yes": pacing = true
                case "false", "0", "no": pacing = false
                default: throw DuplexError(.invalidMessage, "Option 'pacing' must be true or false (got '\(value)').")
                }
            case "admission":
                guard value == "strict" || value == "force" else {
                    throw DuplexError(.invalidMessage, "Option 'admission' must be strict or force (got '\(value)').")
                }
                forceAdmission = value == "force"
            default:
                throw DuplexError(
                    .invalidMessage,
                    "Unknown voice option '\(key)'; known: speed, voice, language, noise_scale, noise_w, pacing, admission.")
            }
        }
    }
}

/// A model family: knows which models it offers and how to load one.
///
/// Adapters are registered by family name (`sine`, `espeak`, `piper`). Loading returns a
/// ``TTSVoice``; the ``ModelManager`` owns loaded voices, warms them up, counts their users
/// and unloads them. Every adapter must pass the conformance suite in `DuplexTesting`.
public protocol TTSAdapter: Sendable {
    /// The family name, matching `family:` in voice-pack metadata.
    var family: String { get }
    /// Models this family offers without a voice pack on disk.
    func builtInModels() -> [ModelDescriptor]
    /// Checks a voice pack of this family (files present, config readable).
    /// - Throws: ``DuplexError`` (`invalidVoicePack`) saying what is wrong.
    func validate(_ pack: ModelDescriptor) throws(DuplexError)
    /// Loads a model. Runs blocking work off the cooperative pool.
    func load(_ model: ModelDescriptor) async throws(DuplexError) -> any TTSVoice
    /// Describes a pack folder that has no `metadata.yaml` from the model files alone (e.g. a
    /// Piper voice dropped in as `.onnx` + `.onnx.json`), or returns nil if it cannot.
    /// - Parameters:
    ///   - name: the folder name, used as the model id.
    func describe(folder path: String, family: String, name: String) throws(DuplexError) -> ModelDescriptor?
}

extension TTSAdapter {
    /// Families that need a `metadata.yaml` describe nothing on their own.
    public func describe(folder path: String, family: String, name: String) throws(DuplexError) -> ModelDescriptor? { nil }
}

/// A loaded voice that turns one text segment into audio.
public protocol TTSVoice: Sendable {
    /// The catalog entry this voice was loaded from.
    var descriptor: ModelDescriptor { get }
    /// Sample rate of the audio ``synthesize(_:options:)`` returns.
    var sampleRate: Int { get }
    /// Synthesizes one segment (a clause or sentence) to mono float samples in [-1, 1].
    /// Honours task cancellation.
    /// - Parameter urgency: when the audio must start playing; adapters with a shared
    ///   inference queue (``InferenceScheduler``) run the earliest deadline first.
    func synthesize(_ text: String, options: VoiceOptions, urgency: InferenceUrgency) async throws(DuplexError) -> [Float]
    /// Releases the voice's resources. Called once, when no session uses it.
    func unload() async
}

extension TTSVoice {
    /// Synthesizes one segment that is needed now.
    public func synthesize(_ text: String, options: VoiceOptions) async throws(DuplexError) -> [Float] {
        try await synthesize(text, options: options, urgency: .now)
    }
}
