import DuplexCore
import DuplexEngine
import Foundation

/// A message a client sends over the WebSocket (protocol v1, docs/WEBSOCKET_PROTOCOL.md).
public enum ClientMessage: Sendable, Equatable {
    /// Session options (optional first message; may be sent again to switch).
    case start(StartOptions)
    /// Text to speak; pieces accumulate into one reply until `isFinal`.
    case text(String, isFinal: Bool)
    /// PAUSE / RESUME / STOP of the current reply.
    case control(ControlCommand)

    /// The engine's playback commands.
    public typealias ControlCommand = PlaybackCommand

    /// Options of a `start` message.
    public struct StartOptions: Sendable, Equatable {
        /// Model to use, if given.
        public var modelID: String?
        /// Language, if given.
        public var language: String?
        /// `binary` (default) or `base64` audio delivery.
        public var audioFormat: AudioDelivery?
        /// Input sample rate for conversation mode.
        public var inputSampleRate: Int?
        /// Live partial transcripts (conversation mode).
        public var partialTranscripts: Bool?
        /// `tts` or `conversation`.
        public var mode: String?
        /// Voice options passed to the worker (e.g. `speed`).
        public var voiceOptions: [String: String] = [:]

        /// The engine's view (the audio delivery is the WebSocket adapter's own business).
        public var session: SessionOptions {
            SessionOptions(
                modelID: modelID, mode: mode.flatMap(SessionMode.init(rawValue:)), inputSampleRate: inputSampleRate,
                partialTranscripts: partialTranscripts, voiceOptions: voiceOptions)
        }
    }

    /// How audio is delivered to the client.
    public enum AudioDelivery: String, Sendable, Equatable {
        case binary, base64
    }

    /// The engine input for this message.
    public var input: SessionInput {
        switch self {
        case .start(let options): .start(options.session)
        case .text(let text, let isFinal): .text(text, isFinal: isFinal)
        case .control(let command): .control(command)
        }
    }

    /// Parses one text WebSocket message.
    /// - Throws: ``DuplexError`` `invalidMessage` saying what is wrong, or `textTooLong`.
    public static func parse(_ text: String, maxTextCharacters: Int) throws(DuplexError) -> ClientMessage {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw DuplexError(.invalidMessage, "Message is not valid JSON; send an object such as {\"type\":\"text\",\"text\":\"Hello.\",\"is_final\":true}.")
        }
        guard let map = object as? [String: Any] else {
            throw DuplexError(.invalidMessage, "Message must be a JSON object with a \"type\" field.")
        }
        guard let type = map["type"] as? String else {
            throw DuplexError(.invalidMessage, "Message needs a string \"type\": start, text or control.")
        }
        switch type {
        case "text":
            guard let body = map["text"] as? String else {
                throw DuplexError(.invalidMessage, "A text message needs a string \"text\" field.")
            }
            guard body.count <= maxTextCharacters else {
                throw DuplexError(.textTooLong, "Text has \(body.count) characters; the limit is \(maxTextCharacters) (limits.max_text_chars). Send it in pieces.")
            }
            let isFinal = try bool(map, "is_final") ?? true
            return .text(body, isFinal: isFinal)
        case "control":
            guard let name = map["command"] as? String, let command = ControlCommand(rawValue: name.uppercased()) else {
                throw DuplexError(.invalidMessage, "A control message needs \"command\": PAUSE, RESUME or STOP.")
            }
            return .control(command)
        case "start":
            var options = StartOptions()
            options.modelID = try string(map, "model_id")
            options.language = try string(map, "language")
            options.mode = try string(map, "mode")
            if let mode = options.mode, mode != "tts", mode != "conversation" {
                throw DuplexError(.invalidMessage, "\"mode\" must be \"tts\" or \"conversation\".")
            }
            if let format = try string(map, "audio_format") {
                guard let delivery = AudioDelivery(rawValue: format) else {
                    throw DuplexError(.invalidMessage, "\"audio_format\" must be \"binary\" or \"base64\".")
                }
                options.audioFormat = delivery
            }
            if let rate = map["input_sample_rate"] {
                guard let value = rate as? Int, [8000, 16000, 22050, 24000, 32000, 44100, 48000].contains(value) else {
                    throw DuplexError(.invalidMessage, "\"input_sample_rate\" must be one of 8000, 16000, 22050, 24000, 32000, 44100, 48000.")
                }
                options.inputSampleRate = value
            }
            if let partials = map["partial_transcripts"] {
                guard isJSONBool(partials), let value = partials as? Bool else {
                    throw DuplexError(.invalidMessage, "\"partial_transcripts\" must be true or false.")
                }
                options.partialTranscripts = value
            }
            if let speed = map["speed"] {
                guard !isJSONBool(speed), let value = speed as? Double, (0.5...2.0).contains(value) else {
                    throw DuplexError(.invalidMessage, "\"speed\" must be a number from 0.5 to 2.0.")
                }
                options.voiceOptions["speed"] = "\(value)"
            }
            if let pacing = map["pacing"] {
                // false: frames as fast as they are synthesized (files, batch), lowest priority.
                guard isJSONBool(pacing), let value = pacing as? Bool else {
                    throw DuplexError(.invalidMessage, "\"pacing\" must be true or false.")
                }
                options.voiceOptions["pacing"] = value ? "true" : "false"
            }
            if let language = options.language { options.voiceOptions["language"] = language }
            return .start(options)
        default:
            throw DuplexError(.invalidMessage, "Unknown message type \"\(type)\"; expected start, text or control.")
        }
    }

    private static func string(_ map: [String: Any], _ key: String) throws(DuplexError) -> String? {
        guard let value = map[key], !(value is NSNull) else { return nil }
        guard let string = value as? String else { throw DuplexError(.invalidMessage, "\"\(key)\" must be a string.") }
        guard string.count <= 256 else { throw DuplexError(.invalidMessage, "\"\(key)\" is too long.") }
        return string
    }

    private static func bool(_ map: [String: Any], _ key: String) throws(DuplexError) -> Bool? {
        guard let value = map[key], !(value is NSNull) else { return nil }
        guard isJSONBool(value), let flag = value as? Bool else {
            throw DuplexError(.invalidMessage, "\"\(key)\" must be true or false.")
        }
        return flag
    }

    /// JSON `true`/`false` decode to a distinct NSNumber subclass; numbers 0/1 must not pass as booleans.
    private static let jsonBoolType: Any.Type = type(
        of: (try? JSONSerialization.jsonObject(with: Data("true".utf8), options: .fragmentsAllowed)) ?? true)

    private static func isJSONBool(_ value: Any) -> Bool {
        type(of: value) == jsonBoolType
    }
}
