import DuplexCore
import Foundation

/// A 440 Hz test tone, for tests and diagnostics only: each segment becomes a tone whose
/// length grows with the text (about 90 ms per word at speed 1), with 5 ms fades.
public struct SineAdapter: TTSAdapter {
    /// The family name.
    public let family = "sine"

    /// Creates the adapter.
    public init() {}

    public func builtInModels() -> [ModelDescriptor] {
        [ModelDescriptor(
            modelID: "sine-440", family: family, displayName: "440 Hz test tone", languages: ["*"],
            sampleRate: 48_000, tags: ["cpu_ok", "streaming", "diagnostic"],
            metadata: ["license": "public-domain", "source": "built-in"])]
    }

    public func validate(_ pack: ModelDescriptor) throws(DuplexError) {}

    public func load(_ model: ModelDescriptor) async throws(DuplexError) -> any TTSVoice {
        SineVoice(descriptor: model)
    }
}

struct SineVoice: TTSVoice {
    let descriptor: ModelDescriptor
    var sampleRate: Int { 48_000 }

    func synthesize(_ text: String, options: VoiceOptions, urgency: InferenceUrgency) async throws(DuplexError) -> [Float] {
        let words = max(1, text.split(whereSeparator: { $0.isWhitespace }).count)
        let seconds = Double(words) * 0.09 / options.speed
        let count = Int(seconds * Double(sampleRate))
        let fade = sampleRate / 200
        var out = [Float](repeating: 0, count: count)
        let step = 2 * Double.pi * 440 / Double(sampleRate)
        for i in 0..<count {
            var v = 0.5 * sin(step * Double(i))
            let edge = min(i, count - 1 - i)
            if edge < fade { v *= Double(edge) / Double(fade) }
            out[i] = Float(v)
        }
        return out
    }

    func unload() async {}
}
