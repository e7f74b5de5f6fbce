import DuplexCore
import Foundation

/// The parts of a Piper voice's `.onnx.json` that Duplex uses.
public struct PiperVoiceConfig: Sendable, Decodable {
    struct Audio: Sendable, Decodable {
        var sample_rate: Int
        var quality: String?
    }
    struct Espeak: Sendable, Decodable {
        var voice: String
    }
    struct Inference: Sendable, Decodable {
        var noise_scale: Double?
        var length_scale: Double?
        var noise_w: Double?
    }
    struct Language: Sendable, Decodable {
        var code: String?
        var name_english: String?
    }

    private var audio: Audio
    private var espeak: Espeak?
    private var inference: Inference?
    private var phoneme_type: String?
    private var language: Language?
    private var dataset: String?
    private var num_speakers: Int?
    /// Phoneme symbol → ids, as trained.
    public private(set) var phoneme_id_map: [String: [Int]]

    /// Output sample rate of the voice.
    public var sampleRate: Int { audio.sample_rate }
    /// The espeak-ng voice used to phonemize text for this voice (e.g. `en-us`).
    public var espeakVoice: String { espeak?.voice ?? "en-us" }
    /// Trained noise scale.
    public var noiseScale: Double { inference?.noise_scale ?? 0.667 }
    /// Trained phoneme length scale (> 1 is slower).
    public var lengthScale: Double { inference?.length_scale ?? 1 }
    /// Trained duration noise.
    public var noiseWidth: Double { inference?.noise_w ?? 0.8 }
    /// Number of speakers.
    public var speakerCount: Int { max(1, num_speakers ?? 1) }
    /// Language tag in Duplex's lower-case form, e.g. `en-us`.
    public var languageTag: String {
        (language?.code ?? espeakVoice).lowercased().replacingOccurrences(of: "_", with: "-")
    }
    /// The language's English name (sherpa-onnx metadata), e.g. `English`.
    public var languageName: String { language?.name_english ?? "English" }
    /// The dataset (speaker) name, e.g. `joe`.
    public var datasetName: String? { dataset }
    /// The quality tier (`x_low`, `low`, `medium`, `high`).
    public var quality: String? { audio.quality }

    /// Reads and checks a voice config file.
    /// - Throws: ``DuplexError`` (`invalidVoicePack`) saying what is wrong.
    public static func load(path: String) throws(DuplexError) -> PiperVoiceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DuplexError(.invalidVoicePack, "Piper voice config '\(path)' is missing or unreadable.")
        }
        let config: PiperVoiceConfig
        do {
            config = try JSONDecoder().decode(PiperVoiceConfig.self, from: data)
        } catch {
            throw DuplexError(
                .invalidVoicePack,
                "Piper voice config '\(path)' is not a valid Piper .onnx.json (needs audio.sample_rate and phoneme_id_map): \(error)")
        }
        if let type = config.phoneme_type, type != "espeak" {
            throw DuplexError(
                .invalidVoicePack,
                "Piper voice config '\(path)' uses phoneme_type '\(type)'; Duplex supports espeak-phonemized Piper voices.")
        }
        guard (8000...96_000).contains(config.sampleRate) else {
            throw DuplexError(.invalidVoicePack, "Piper voice config '\(path)': audio.sample_rate \(config.sampleRate) is out of range.")
        }
        guard config.phoneme_id_map.count >= 4, config.phoneme_id_map["_"] != nil else {
            throw DuplexError(.invalidVoicePack, "Piper voice config '\(path)': phoneme_id_map is empty or lacks the pad symbol '_'.")
        }
        return config
    }

    /// The `tokens.txt` sherpa-onnx reads: `SYMBOL ID` per line.
    public func tokensFile() -> String {
        phoneme_id_map
            .compactMap { symbol, ids -> (String, Int)? in
                guard let id = ids.first, !symbol.contains("\n") else { return nil }
                return (symbol, id)
            }
            .sorted { $0.1 < $1.1 }
            .map { "\($0.0) \($0.1)\n" }
            .joined()
    }

    /// The metadata sherpa-onnx needs in the model file.
    public func sherpaMetadata() -> [(key: String, value: String)] {
        [
            ("model_type", "vits"), ("comment", "piper"), ("language", languageName),
            ("voice", espeakVoice), ("has_espeak", "1"), ("n_speakers", "\(speakerCount)"),
            ("sample_rate", "\(sampleRate)"),
        ]
    }

    /// The codepoints that have a phoneme id (others are dropped before synthesis).
    public func knownCodepoints() -> Set<Int32> {
        Set(phoneme_id_map.keys.compactMap { symbol in
            let scalars = symbol.unicodeScalars
            return scalars.count == 1 ? Int32(scalars.first!.value) : nil
        })
    }
}
