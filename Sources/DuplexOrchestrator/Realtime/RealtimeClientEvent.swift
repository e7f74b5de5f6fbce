import DuplexCore
import Foundation

/// A client event of the OpenAI Realtime API (GA names; the beta dialect's client events have
/// the same names), parsed and checked. Docs: docs/OPENAI_REALTIME.md.
enum RealtimeClientEvent: Sendable, Equatable {
    /// `session.update`: only the fields present change.
    case sessionUpdate(RealtimeSessionUpdate, eventID: String?)
    /// `input_audio_buffer.append`: s16le mono PCM at 24 kHz.
    case appendAudio(Data, eventID: String?)
    /// `input_audio_buffer.commit`.
    case commitAudio(eventID: String?)
    /// `input_audio_buffer.clear`.
    case clearAudio(eventID: String?)
    /// `conversation.item.create` with a message.
    case createItem(RealtimeMessage, previousItemID: String?, eventID: String?)
    /// `conversation.item.delete`.
    case deleteItem(itemID: String, eventID: String?)
    /// `conversation.item.truncate`.
    case truncateItem(itemID: String, contentIndex: Int, audioEndMs: Int, eventID: String?)
    /// `response.create` (its per-response options are not supported and ignored).
    case createResponse(eventID: String?)
    /// `response.cancel`.
    case cancelResponse(eventID: String?)

    /// The client's `event_id`, echoed in errors about the event.
    var eventID: String? {
        switch self {
        case .sessionUpdate(_, let id), .appendAudio(_, let id), .commitAudio(let id), .clearAudio(let id),
            .createItem(_, _, let id), .deleteItem(_, let id), .truncateItem(_, _, _, let id), .createResponse(let id),
            .cancelResponse(let id):
            id
        }
    }

    /// Parses one text message.
    /// - Throws: ``RealtimeProtocolError`` naming what was wrong (and the client's `event_id`
    ///   when it could be read).
    static func parse(_ text: String) throws(RealtimeProtocolError) -> RealtimeClientEvent {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let root = object as? [String: Any] else {
            throw RealtimeProtocolError(code: "invalid_json", "The message is not a JSON object.")
        }
        let eventID = root["event_id"] as? String
        let fields = RealtimeFields(root, eventID: eventID)
        guard let type = root["type"] as? String else {
            throw RealtimeProtocolError(code: "missing_required_parameter", "The event has no \"type\".", param: "type", eventID: eventID)
        }
        switch type {
        case "session.update":
            let session = try fields.object("session", required: true) ?? [:]
            return .sessionUpdate(try RealtimeSessionUpdate.parse(session, eventID: eventID), eventID: eventID)
        case "input_audio_buffer.append":
            let audio = try fields.string("audio", maxLength: .max, required: true) ?? ""
            guard let pcm = Data(base64Encoded: audio) else {
                throw RealtimeProtocolError(code: "invalid_value", "\"audio\" is not base64.", param: "audio", eventID: eventID)
            }
            guard pcm.count % 2 == 0 else {
                throw RealtimeProtocolError(
                    code: "invalid_value", "\"audio\" must be 16-bit PCM (an even number of bytes).", param: "audio", eventID: eventID)
            }
            return .appendAudio(pcm, eventID: eventID)
        case "input_audio_buffer.commit":
            return .commitAudio(eventID: eventID)
        case "input_audio_buffer.clear":
            return .clearAudio(eventID: eventID)
        case "conversation.item.create":
            let item = try fields.object("item", required: true) ?? [:]
            let previous = try fields.string("previous_item_id")
            return .createItem(try RealtimeMessage.parse(item, eventID: eventID), previousItemID: previous, eventID: eventID)
        case "conversation.item.delete":
            return .deleteItem(itemID: try fields.string("item_id", required: true) ?? "", eventID: eventID)
        case "conversation.item.truncate":
            let itemID = try fields.string("item_id", required: true) ?? ""
            let contentIndex = try fields.int("content_index", in: 0...0, required: true) ?? 0
            let audioEndMs = try fields.int("audio_end_ms", in: 0...Int(Int32.max), required: true) ?? 0
            return .truncateItem(itemID: itemID, contentIndex: contentIndex, audioEndMs: audioEndMs, eventID: eventID)
        case "response.create":
            return .createResponse(eventID: eventID)
        case "response.cancel":
            return .cancelResponse(eventID: eventID)
        default:
            throw RealtimeProtocolError(
                code: "unknown_event_type", "Unknown event type \"\(type.prefix(64))\"; see docs/OPENAI_REALTIME.md for the supported ones.",
                param: "type", eventID: eventID)
        }
    }
}

/// The parts of `session.update` Duplex acts on (GA shape `audio.input` / `audio.output`, or
/// the beta dialect's flat fields). Nil: unchanged.
struct RealtimeSessionUpdate: Sendable, Equatable {
    /// `instructions` ("" clears them).
    var instructions: String?
    /// `audio.output.voice` (beta: `voice`).
    var voice: String?
    /// `audio.input.turn_detection` (beta: `turn_detection`): `.some(nil)` is null (manual turns).
    var turnDetection: RealtimeTurnDetection??

    static func parse(_ session: [String: Any], eventID: String?) throws(RealtimeProtocolError) -> RealtimeSessionUpdate {
        var update = RealtimeSessionUpdate()
        let fields = RealtimeFields(session, eventID: eventID, prefix: "session.")
        update.instructions = try fields.string("instructions", maxLength: 16_384)
        if let type = try fields.string("type"), type != "realtime" {
            throw RealtimeProtocolError(
                code: "invalid_value", "Only \"realtime\" sessions are supported (not \"\(type.prefix(32))\").", param: "session.type",
                eventID: eventID)
        }
        if let modalities = session["output_modalities"] ?? session["modalities"], let list = modalities as? [String], !list.contains("audio") {
            throw RealtimeProtocolError(
                code: "invalid_value", "Duplex always answers with audio; output_modalities must include \"audio\".",
                param: "session.output_modalities", eventID: eventID)
        }
        // Beta: flat fields.
        for key in ["input_audio_format", "output_audio_format"] {
            if let format = try fields.string(key), format != "pcm16" {
                throw RealtimeProtocolError(
                    code: "invalid_value", "Only \"pcm16\" (24 kHz) audio is supported, not \"\(format.prefix(32))\".",
                    param: "session.\(key)", eventID: eventID)
            }
        }
        if let voice = try fields.string("voice") { update.voice = voice }
        if session.keys.contains("turn_detection") {
            update.turnDetection = .some(try RealtimeTurnDetection.parse(session["turn_detection"], param: "session.turn_detection", eventID: eventID))
        }
        // GA: audio.input / audio.output.
        if let audio = try fields.object("audio") {
            let audioFields = RealtimeFields(audio, eventID: eventID, prefix: "session.audio.")
            if let input = try audioFields.object("input") {
                let inputFields = RealtimeFields(input, eventID: eventID, prefix: "session.audio.input.")
                if let format = try inputFields.object("format") {
                    try Self.checkFormat(format, param: "session.audio.input.format", eventID: eventID)
                }
                if input.keys.contains("turn_detection") {
                    update.turnDetection = .some(try RealtimeTurnDetection.parse(
                        input["turn_detection"], param: "session.audio.input.turn_detection", eventID: eventID))
                }
            }
            if let output = try audioFields.object("output") {
                let outputFields = RealtimeFields(output, eventID: eventID, prefix: "session.audio.output.")
                if let format = try outputFields.object("format") {
                    try Self.checkFormat(format, param: "session.audio.output.format", eventID: eventID)
                }
                if let voice = output["voice"] as? [String: Any], let id = voice["id"] as? String {
                    update.voice = id
                } else if let voice = try outputFields.string("voice") {
                    update.voice = voice
                }
            }
        }
        return update
    }

    /// `{type: "audio/pcm", rate: 24000}` is the one format served.
    private static func checkFormat(_ format: [String: Any], param: String, eventID: String?) throws(RealtimeProtocolError) {
        let type = format["type"] as? String ?? "audio/pcm"
        guard type == "audio/pcm" else {
            throw RealtimeProtocolError(
                code: "invalid_value", "Only audio/pcm (24 kHz, 16-bit mono) is supported, not \"\(type.prefix(32))\".", param: "\(param).type",
                eventID: eventID)
        }
        if let rate = format["rate"], !(rate is NSNull) {
            guard let value = rate as? Int, value == RealtimeAudioConverter.clientRate else {
                throw RealtimeProtocolError(
                    code: "invalid_value", "Only rate 24000 is supported for audio/pcm.", param: "\(param).rate", eventID: eventID)
            }
        }
    }
}

/// `turn_detection` `server_vad` (or `semantic_vad`, served by the same detector).
struct RealtimeTurnDetection: Sendable, Equatable {
    var type: String = "server_vad"
    var threshold: Double = 0.5
    var silenceDurationMs: Int = 500
    var prefixPaddingMs: Int = 300
    var createResponse = true
    var interruptResponse = true

    /// Nil for JSON null (manual turns).
    static func parse(_ value: Any?, param: String, eventID: String?) throws(RealtimeProtocolError) -> RealtimeTurnDetection? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else {
            throw RealtimeProtocolError(code: "invalid_type", "\"\(param)\" must be an object or null.", param: param, eventID: eventID)
        }
        var detection = RealtimeTurnDetection()
        let fields = RealtimeFields(object, eventID: eventID, prefix: "\(param).")
        let type = try fields.string("type") ?? "server_vad"
        guard type == "server_vad" || type == "semantic_vad" else {
            throw RealtimeProtocolError(
                code: "invalid_value", "turn_detection type must be \"server_vad\" or \"semantic_vad\".", param: "\(param).type",
                eventID: eventID)
        }
        detection.type = type
        if let threshold = try fields.double("threshold", in: 0...1) { detection.threshold = threshold }
        if let silence = try fields.int("silence_duration_ms", in: 0...10_000) { detection.silenceDurationMs = silence }
        if let padding = try fields.int("prefix_padding_ms", in: 0...10_000) { detection.prefixPaddingMs = padding }
        if let create = try fields.bool("create_response") { detection.createResponse = create }
        if let interrupt = try fields.bool("interrupt_response") { detection.interruptResponse = interrupt }
        return detection
    }
}

/// A conversation message a client adds (`conversation.item.create`).
struct RealtimeMessage: Sendable, Equatable {
    enum Role: String, Sendable, Equatable {
        case user, assistant, system
    }

    var id: String?
    var role: Role
    /// The text of its content parts, joined.
    var text: String

    static func parse(_ item: [String: Any], eventID: String?) throws(RealtimeProtocolError) -> RealtimeMessage {
        let fields = RealtimeFields(item, eventID: eventID, prefix: "item.")
        let type = try fields.string("type") ?? "message"
        guard type == "message" else {
            throw RealtimeProtocolError(
                code: "invalid_value", "Only message items are supported (not \"\(type.prefix(32))\": Duplex has no tools).", param: "item.type",
                eventID: eventID)
        }
        let roleName = try fields.string("role", required: true) ?? ""
        guard let role = Role(rawValue: roleName) else {
            throw RealtimeProtocolError(code: "invalid_value", "item.role must be user, assistant or system.", param: "item.role", eventID: eventID)
        }
        guard let content = item["content"] as? [[String: Any]], !content.isEmpty else {
            throw RealtimeProtocolError(code: "invalid_value", "item.content must be a non-empty list of parts.", param: "item.content", eventID: eventID)
        }
        var text = ""
        for part in content {
            let partType = part["type"] as? String ?? ""
            switch partType {
            case "input_text", "text", "output_text":
                text += part["text"] as? String ?? ""
            case "input_audio", "output_audio", "audio":
                guard let transcript = part["transcript"] as? String else {
                    throw RealtimeProtocolError(
                        code: "invalid_value", "Audio content parts are supported only with a transcript; send the audio with input_audio_buffer.append.",
                        param: "item.content", eventID: eventID)
                }
                text += transcript
            default:
                throw RealtimeProtocolError(
                    code: "invalid_value", "Content part type \"\(partType.prefix(32))\" is not supported.", param: "item.content", eventID: eventID)
            }
        }
        guard text.count <= 16_384 else {
            throw RealtimeProtocolError(code: "string_above_max_length", "The message's text is too long.", param: "item.content", eventID: eventID)
        }
        return RealtimeMessage(id: try fields.string("id"), role: role, text: text)
    }
}

/// A client event that could not be used: sent back as an `error` event; the session goes on.
struct RealtimeProtocolError: Error, Sendable, Equatable {
    /// OpenAI's `error.type`.
    var type = "invalid_request_error"
    /// A machine-readable code (`invalid_json`, `unknown_event_type`, `invalid_value`, …).
    var code: String
    var message: String
    /// The offending field, dotted.
    var param: String?
    /// The client's `event_id` of the event at fault.
    var eventID: String?

    init(type: String = "invalid_request_error", code: String, _ message: String, param: String? = nil, eventID: String? = nil) {
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.eventID = eventID
    }

    /// An engine error in the Realtime shape: the client's mistakes are `invalid_request_error`,
    /// the rest `server_error`; the code is Duplex's, lowercased.
    init(_ error: DuplexError) {
        if error.code == .rateLimited {
            // OpenAI's own shape for rate limits; the message carries the retry hint.
            self.init(type: "rate_limit_error", code: "rate_limit_exceeded", error.message)
            return
        }
        let clientCodes: Set<DuplexError.Code> = [.invalidMessage, .invalidAudio, .unknownModel, .textTooLong, .messageTooLarge]
        self.init(
            type: clientCodes.contains(error.code) ? "invalid_request_error" : "server_error", code: error.code.rawValue.lowercased(),
            error.message)
    }
}

/// Typed reads of a JSON object's fields, with errors naming the field.
struct RealtimeFields {
    let object: [String: Any]
    let eventID: String?
    var prefix = ""

    init(_ object: [String: Any], eventID: String?, prefix: String = "") {
        self.object = object
        self.eventID = eventID
        self.prefix = prefix
    }

    private func value(_ key: String, required: Bool) throws(RealtimeProtocolError) -> Any? {
        guard let value = object[key], !(value is NSNull) else {
            if required {
                throw RealtimeProtocolError(code: "missing_required_parameter", "\"\(prefix)\(key)\" is required.", param: prefix + key, eventID: eventID)
            }
            return nil
        }
        return value
    }

    private func wrongType(_ key: String, _ expected: String) -> RealtimeProtocolError {
        RealtimeProtocolError(code: "invalid_type", "\"\(prefix)\(key)\" must be \(expected).", param: prefix + key, eventID: eventID)
    }

    func string(_ key: String, maxLength: Int = 1024, required: Bool = false) throws(RealtimeProtocolError) -> String? {
        guard let value = try value(key, required: required) else { return nil }
        guard let string = value as? String else { throw wrongType(key, "a string") }
        guard string.count <= maxLength else {
            throw RealtimeProtocolError(
                code: "string_above_max_length", "\"\(prefix)\(key)\" is longer than \(maxLength) characters.", param: prefix + key, eventID: eventID)
        }
        return string
    }

    func object(_ key: String, required: Bool = false) throws(RealtimeProtocolError) -> [String: Any]? {
        guard let value = try value(key, required: required) else { return nil }
        guard let object = value as? [String: Any] else { throw wrongType(key, "an object") }
        return object
    }

    func int(_ key: String, in range: ClosedRange<Int>, required: Bool = false) throws(RealtimeProtocolError) -> Int? {
        guard let value = try value(key, required: required) else { return nil }
        guard let number = value as? NSNumber, !Self.isBool(value), let exact = Int(exactly: number.doubleValue) else {
            throw wrongType(key, "an integer")
        }
        guard range.contains(exact) else {
            throw RealtimeProtocolError(
                code: "invalid_value", "\"\(prefix)\(key)\" must be in \(range.lowerBound)...\(range.upperBound).", param: prefix + key, eventID: eventID)
        }
        return exact
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws(RealtimeProtocolError) -> Double? {
        guard let value = try value(key, required: false) else { return nil }
        guard let number = value as? NSNumber, !Self.isBool(value) else { throw wrongType(key, "a number") }
        guard range.contains(number.doubleValue) else {
            throw RealtimeProtocolError(
                code: "invalid_value", "\"\(prefix)\(key)\" must be in \(range.lowerBound)...\(range.upperBound).", param: prefix + key, eventID: eventID)
        }
        return number.doubleValue
    }

    func bool(_ key: String) throws(RealtimeProtocolError) -> Bool? {
        guard let value = try value(key, required: false) else { return nil }
        guard Self.isBool(value), let flag = value as? Bool else { throw wrongType(key, "true or false") }
        return flag
    }

    /// JSON `true`/`false` decode to a distinct NSNumber subclass; 0/1 must not pass as booleans.
    private static let jsonBoolType: Any.Type = type(
        of: (try? JSONSerialization.jsonObject(with: Data("true".utf8), options: .fragmentsAllowed)) ?? true)

    static func isBool(_ value: Any) -> Bool { type(of: value) == jsonBoolType }
}
