import DuplexCodecs
import DuplexConfig
import Foundation

/// A validated `POST /v1/audio/speech` body.
struct SpeechRequest: Sendable, Equatable {
    /// OpenAI's `model` (`tts-1`, `gpt-4o-mini-tts`, or a Duplex model id).
    var model: String
    /// The text to speak.
    var input: String
    /// The voice as the client named it (an OpenAI voice name or a Duplex model id).
    var voice: String
    /// The audio format of the response.
    var format: AudioFormat
    /// Speaking rate, 0.25–4.0 (the worker's range, 0.5–2.0, clamps it).
    var speed: Double
    /// Style instructions (accepted; Duplex's voices have no instruction following).
    var instructions: String?
    /// Audio as server-sent events (`speech.audio.delta` / `speech.audio.done`) instead of bytes.
    var sse: Bool

    /// Parses and validates a request body.
    /// - Throws: ``OpenAIError`` (400) naming the field.
    static func parse(_ body: Data, limits: OpenAISection) throws(OpenAIError) -> SpeechRequest {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalid("The request body must be a JSON object.", param: nil, code: "invalid_json")
        }
        func string(_ key: String, required: Bool) throws(OpenAIError) -> String? {
            guard let value = object[key], !(value is NSNull) else {
                if required { throw .invalid("'\(key)' is required.", param: key, code: "missing_required_parameter") }
                return nil
            }
            guard let text = value as? String else { throw .invalid("'\(key)' must be a string.", param: key, code: "invalid_type") }
            return text
        }
        let model = try string("model", required: true) ?? ""
        let input = try string("input", required: true) ?? ""
        guard !input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .invalid("'input' is empty; give the text to speak.", param: "input")
        }
        guard input.count <= limits.maxInputChars else {
            throw .invalid(
                "'input' has \(input.count) characters; the most is \(limits.maxInputChars) (openai.max_input_chars).",
                param: "input", code: "string_above_max_length")
        }
        let voice = try string("voice", required: true) ?? ""
        let formatName = try string("response_format", required: false) ?? "mp3"
        guard let format = AudioFormat(rawValue: formatName) else {
            throw .invalid(
                "response_format '\(formatName)' is not supported; supported: \(AudioFormat.allCases.map(\.rawValue).joined(separator: ", ")) (aac needs an encoder Debian does not ship).",
                param: "response_format", code: "unsupported_format")
        }
        var speed = 1.0
        if let value = object["speed"], !(value is NSNull) {
            // JSON booleans are NSNumbers too; their type code is "c".
            guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
                throw .invalid("'speed' must be a number from 0.25 to 4.0.", param: "speed", code: "invalid_type")
            }
            speed = number.doubleValue
            guard speed.isFinite, (0.25...4.0).contains(speed) else {
                throw .invalid("'speed' must be from 0.25 to 4.0 (got \(speed)).", param: "speed")
            }
        }
        let streamFormat = try string("stream_format", required: false) ?? "audio"
        guard streamFormat == "audio" || streamFormat == "sse" else {
            throw .invalid("stream_format must be 'audio' or 'sse' (got '\(streamFormat)').", param: "stream_format")
        }
        return SpeechRequest(
            model: model, input: input, voice: voice, format: format, speed: speed,
            instructions: try string("instructions", required: false), sse: streamFormat == "sse")
    }

    /// The speed the worker is asked for (its range is 0.5–2.0).
    var workerSpeed: Double { min(2.0, max(0.5, speed)) }
}
