import DuplexCore
import DuplexEspeak

/// espeak-ng voices: a real, very fast formant synthesizer in 100+ languages, and the
/// fallback when no neural voice is installed. Offers `espeak-en-us` built in; packs of
/// family `espeak` can name other voices with a `voice:` key.
public struct EspeakAdapter: TTSAdapter {
    /// The family name.
    public let family = "espeak"

    /// Creates the adapter.
    public init() {}

    public func builtInModels() -> [ModelDescriptor] {
        [ModelDescriptor(
            modelID: "espeak-en-us", family: family, displayName: "eSpeak NG (en-US)", languages: ["en-us"],
            sampleRate: 22_050, tags: ["cpu_ok", "streaming"],
            metadata: ["voice": "en-us", "license": "GPL-3.0-or-later", "source": "Debian espeak-ng-data"])]
    }

    public func validate(_ pack: ModelDescriptor) throws(DuplexError) {
        guard let voice = pack.metadata["voice"] ?? pack.languages.first, !voice.isEmpty else {
            throw DuplexError(.invalidVoicePack, "espeak pack '\(pack.modelID)' names no voice: add `voice: en-us` to its metadata.yaml.")
        }
    }

    public func load(_ model: ModelDescriptor) async throws(DuplexError) -> any TTSVoice {
        let engine = EspeakEngine.shared
        let rate = try await engine.sampleRate()
        let voice = model.metadata["voice"] ?? model.languages.first ?? "en-us"
        // Fail at load time, not at the first reply, when the voice does not exist.
        _ = try await engine.synthesize(".", voice: voice)
        return EspeakVoice(descriptor: model, sampleRate: rate, voice: voice, engine: engine)
    }
}

struct EspeakVoice: TTSVoice {
    let descriptor: ModelDescriptor
    let sampleRate: Int
    let voice: String
    let engine: EspeakEngine

    func synthesize(_ text: String, options: VoiceOptions, urgency: InferenceUrgency) async throws(DuplexError) -> [Float] {
        let pcm = try await engine.synthesize(
            text, voice: options.voice ?? voice, wordsPerMinute: Int((175 * options.speed).rounded()))
        return pcm.map { Float($0) / 32768 }
    }

    func unload() async {}
}
