import DuplexProto

/// The `info` answer to `describe`: one TTS program listing the worker catalog's voices,
/// and one ASR program with the Whisper model (when speech recognition is loaded).
enum WyomingInfo {
    /// A voice of the catalog.
    struct Voice: Sendable, Hashable {
        /// The Duplex model id (the voice `name` clients send back).
        var name: String
        /// Its languages as the catalog lists them.
        var languages: [String]
        /// Its display name.
        var description: String
        /// Its family (`piper`, `espeak`, `sine`).
        var family: String
        /// Whether the worker has it loaded.
        var loaded: Bool

        init(name: String, languages: [String], description: String, family: String, loaded: Bool) {
            self.name = name
            self.languages = languages
            self.description = description
            self.family = family
            self.loaded = loaded
        }

        init(_ model: Duplex_Tts_V1_ModelInfo) {
            self.init(
                name: model.modelID, languages: model.languages, description: model.metadata["display_name"] ?? model.modelID,
                family: model.family, loaded: model.isLoaded)
        }
    }

    /// The speech recognition model.
    struct Recognizer: Sendable, Hashable {
        /// Its name (the model folder's name, e.g. `whisper-tiny.en`).
        var name: String
        /// Its languages.
        var languages: [String]
    }

    static func event(voices: [Voice], recognizer: Recognizer?) -> WyomingEvent {
        let duplex: JSONValue = ["name": "Duplex", "url": ""]
        let tts: JSONValue = [
            "name": "duplex", "description": "Duplex realtime speech server", "attribution": duplex, "installed": true,
            "version": .string(WyomingEvent.protocolVersion), "supports_synthesize_streaming": true,
            "voices": .array(voices.sorted { $0.name < $1.name }.map { voice in
                [
                    "name": .string(voice.name), "description": .string(voice.description),
                    "attribution": attribution(family: voice.family), "installed": true, "version": nil,
                    "languages": .array(voice.languages.map { .string($0) }), "speakers": nil,
                ]
            }),
        ]
        var asr: [JSONValue] = []
        if let recognizer {
            asr.append([
                "name": "duplex-whisper", "description": "Whisper through Duplex (sherpa-onnx)", "attribution": duplex,
                "installed": true, "version": .string(WyomingEvent.protocolVersion), "supports_transcript_streaming": true,
                "models": [[
                    "name": .string(recognizer.name), "description": .string(recognizer.name),
                    "attribution": ["name": "OpenAI", "url": "https://github.com/openai/whisper"], "installed": true, "version": nil,
                    "languages": .array(recognizer.languages.map { .string($0) }),
                ]],
            ])
        }
        return WyomingEvent("info", data: [
            "tts": voices.isEmpty ? [] : [tts], "asr": .array(asr), "handle": [], "intent": [], "wake": [], "mic": [], "snd": [],
        ])
    }

    static func attribution(family: String) -> JSONValue {
        switch family {
        case "piper": ["name": "rhasspy (Piper)", "url": "https://github.com/rhasspy/piper"]
        case "espeak": ["name": "eSpeak NG", "url": "https://github.com/espeak-ng/espeak-ng"]
        default: ["name": .string(family.isEmpty ? "Duplex" : family), "url": ""]
        }
    }

    /// The languages of a Whisper model: its configured language, English for `.en` models,
    /// otherwise every language Whisper knows.
    static func languages(modelDirectory: String, configured: String) -> [String] {
        if !configured.isEmpty { return [configured] }
        if modelDirectory.hasSuffix(".en") || modelDirectory.hasSuffix(".en/") { return ["en"] }
        return whisperLanguages
    }

    /// Whisper's languages (ISO 639-1 where there is a code, as Whisper names them).
    static let whisperLanguages = [
        "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
        "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
        "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
        "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
        "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
    ]
}
