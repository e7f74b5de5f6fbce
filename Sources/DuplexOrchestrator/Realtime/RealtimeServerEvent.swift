import Foundation

/// Which names and shapes the client expects: the GA API (default), or the beta one a client
/// asks for with the header `OpenAI-Beta: realtime=v1`.
enum RealtimeDialect: Sendable, Equatable {
    case ga, beta

    /// From the upgrade request's `OpenAI-Beta` header.
    init(openAIBeta header: String?) {
        let asked = header?.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "realtime=v1" } ?? false
        self = asked ? .beta : .ga
    }
}

/// A server event of the Realtime API, before its dialect's names and its `event_id`.
enum RealtimeServerEvent: Sendable, Equatable {
    case sessionCreated(RealtimeSessionState)
    case sessionUpdated(RealtimeSessionState)
    case speechStarted(itemID: String, audioStartMs: Int)
    case speechStopped(itemID: String, audioEndMs: Int)
    case committed(itemID: String, previousItemID: String?)
    case cleared
    case itemAdded(RealtimeItem, previousItemID: String?)
    case itemDone(RealtimeItem, previousItemID: String?)
    case itemDeleted(itemID: String)
    case itemTruncated(itemID: String, audioEndMs: Int)
    case transcriptionDelta(itemID: String, delta: String)
    case transcriptionCompleted(itemID: String, transcript: String)
    case responseCreated(RealtimeResponse)
    case outputItemAdded(responseID: String, RealtimeItem)
    case contentPartAdded(responseID: String, itemID: String)
    /// A reply frame as the engine sent it (48 kHz); the encoder resamples it.
    case audioDelta(responseID: String, itemID: String, pcm: Data)
    case audioDone(responseID: String, itemID: String)
    case transcriptDelta(responseID: String, itemID: String, delta: String)
    case transcriptDone(responseID: String, itemID: String, transcript: String)
    case contentPartDone(responseID: String, itemID: String, transcript: String)
    case outputItemDone(responseID: String, RealtimeItem)
    case responseDone(RealtimeResponse)
    case error(RealtimeProtocolError)
}

/// The session as `session.created` / `session.updated` describe it.
struct RealtimeSessionState: Sendable, Equatable {
    var id: String
    /// The `model` the client connected with.
    var model: String
    var instructions = ""
    var voice = "alloy"
    /// Nil: manual turns.
    var turnDetection: RealtimeTurnDetection? = RealtimeTurnDetection()
}

/// A conversation item (always a message: Duplex has no tools).
struct RealtimeItem: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case userAudio, userText, assistantAudio, assistantText
    }

    var id: String
    var kind: Kind
    /// `completed`, `incomplete` or `in_progress`.
    var status: String
    /// The transcript or text (nil: not known yet).
    var text: String?

    var role: String {
        switch kind {
        case .userAudio, .userText: "user"
        case .assistantAudio, .assistantText: "assistant"
        }
    }
}

/// A response as `response.created` / `response.done` describe it.
struct RealtimeResponse: Sendable, Equatable {
    var id: String
    /// `in_progress`, `completed`, `cancelled` or `failed`.
    var status: String
    /// Why it was cancelled (`turn_detected`, `client_cancelled`) or failed.
    var reason: String?
    var output: [RealtimeItem] = []
    var voice: String
}

/// Encodes server events in one dialect, numbering them and turning reply frames into 24 kHz
/// base64 audio. Owned by the session's writer, behind its lock.
struct RealtimeEncoder {
    let dialect: RealtimeDialect
    private let audio: RealtimeAudioConverter
    private var counter = 0

    init(dialect: RealtimeDialect, audio: RealtimeAudioConverter) {
        self.dialect = dialect
        self.audio = audio
    }

    private mutating func nextEventID() -> String {
        counter += 1
        return "event_\(counter)"
    }

    /// The event's JSON text messages (an audio frame may give none; the end of the audio
    /// gives the resampler's tail first).
    mutating func encode(_ event: RealtimeServerEvent) -> [String] {
        switch event {
        case .audioDelta(let responseID, let itemID, let pcm):
            let base64 = audio.convert(pcm)
            return base64.isEmpty ? [] : [audioDelta(responseID, itemID, base64)]
        case .audioDone(let responseID, let itemID):
            let tail = audio.flush()
            var messages = tail.isEmpty ? [] : [audioDelta(responseID, itemID, tail)]
            messages.append(json(object(for: event)))
            return messages
        case .itemDone where dialect == .beta:
            // The beta API has no `conversation.item.done`.
            return []
        default:
            return [json(object(for: event))]
        }
    }

    /// The audio delta, written by hand: it is the one per-frame message.
    private mutating func audioDelta(_ responseID: String, _ itemID: String, _ base64: String) -> String {
        let type = dialect == .beta ? "response.audio.delta" : "response.output_audio.delta"
        return #"{"content_index":0,"delta":""# + base64 + #"","event_id":""# + nextEventID() + #"","item_id":""# + itemID
            + #"","output_index":0,"response_id":""# + responseID + #"","type":""# + type + #""}"#
    }

    private func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private var beta: Bool { dialect == .beta }

    private mutating func object(for event: RealtimeServerEvent) -> [String: Any] {
        var object: [String: Any] = ["event_id": nextEventID()]
        switch event {
        case .sessionCreated(let session):
            object["type"] = "session.created"
            object["session"] = sessionObject(session)
        case .sessionUpdated(let session):
            object["type"] = "session.updated"
            object["session"] = sessionObject(session)
        case .speechStarted(let itemID, let audioStartMs):
            object["type"] = "input_audio_buffer.speech_started"
            object["item_id"] = itemID
            object["audio_start_ms"] = audioStartMs
        case .speechStopped(let itemID, let audioEndMs):
            object["type"] = "input_audio_buffer.speech_stopped"
            object["item_id"] = itemID
            object["audio_end_ms"] = audioEndMs
        case .committed(let itemID, let previousItemID):
            object["type"] = "input_audio_buffer.committed"
            object["item_id"] = itemID
            object["previous_item_id"] = previousItemID ?? NSNull()
        case .cleared:
            object["type"] = "input_audio_buffer.cleared"
        case .itemAdded(let item, let previousItemID):
            object["type"] = beta ? "conversation.item.created" : "conversation.item.added"
            object["item"] = itemObject(item)
            object["previous_item_id"] = previousItemID ?? NSNull()
        case .itemDone(let item, let previousItemID):
            object["type"] = "conversation.item.done"
            object["item"] = itemObject(item)
            object["previous_item_id"] = previousItemID ?? NSNull()
        case .itemDeleted(let itemID):
            object["type"] = "conversation.item.deleted"
            object["item_id"] = itemID
        case .itemTruncated(let itemID, let audioEndMs):
            object["type"] = "conversation.item.truncated"
            object["item_id"] = itemID
            object["content_index"] = 0
            object["audio_end_ms"] = audioEndMs
        case .transcriptionDelta(let itemID, let delta):
            object["type"] = "conversation.item.input_audio_transcription.delta"
            object["item_id"] = itemID
            object["content_index"] = 0
            object["delta"] = delta
        case .transcriptionCompleted(let itemID, let transcript):
            object["type"] = "conversation.item.input_audio_transcription.completed"
            object["item_id"] = itemID
            object["content_index"] = 0
            object["transcript"] = transcript
            object["usage"] = ["type": "tokens", "input_tokens": 0, "output_tokens": 0, "total_tokens": 0]
        case .responseCreated(let response):
            object["type"] = "response.created"
            object["response"] = responseObject(response)
        case .outputItemAdded(let responseID, let item):
            object["type"] = "response.output_item.added"
            object["response_id"] = responseID
            object["output_index"] = 0
            object["item"] = itemObject(item)
        case .contentPartAdded(let responseID, let itemID):
            object["type"] = "response.content_part.added"
            object.merge(partFields(responseID, itemID)) { _, new in new }
            object["part"] = ["type": "audio", "transcript": ""]
        case .audioDelta(let responseID, let itemID, _):
            // Encoded by hand (see `audioDelta`); this is never reached with audio.
            object["type"] = beta ? "response.audio.delta" : "response.output_audio.delta"
            object.merge(partFields(responseID, itemID)) { _, new in new }
            object["delta"] = ""
        case .audioDone(let responseID, let itemID):
            object["type"] = beta ? "response.audio.done" : "response.output_audio.done"
            object.merge(partFields(responseID, itemID)) { _, new in new }
        case .transcriptDelta(let responseID, let itemID, let delta):
            object["type"] = beta ? "response.audio_transcript.delta" : "response.output_audio_transcript.delta"
            object.merge(partFields(responseID, itemID)) { _, new in new }
            object["delta"] = delta
        case .transcriptDone(let responseID, let itemID, let transcript):
            object["type"] = beta ? "response.audio_transcript.done" : "response.output_audio_transcript.done"
            object.merge(partFields(responseID, itemID)) { _, new in new }
            object["transcript"] = transcript
        case .contentPartDone(let responseID, let itemID, let transcript):
            object["type"] = "response.content_part.done"
            object.merge(partFields(responseID, itemID)) { _, new in new }
            object["part"] = ["type": "audio", "transcript": transcript]
        case .outputItemDone(let responseID, let item):
            object["type"] = "response.output_item.done"
            object["response_id"] = responseID
            object["output_index"] = 0
            object["item"] = itemObject(item)
        case .responseDone(let response):
            object["type"] = "response.done"
            object["response"] = responseObject(response)
        case .error(let error):
            object["type"] = "error"
            object["error"] = [
                "type": error.type, "code": error.code, "message": error.message, "param": error.param ?? NSNull(),
                "event_id": error.eventID ?? NSNull(),
            ] as [String: Any]
        }
        return object
    }

    private func partFields(_ responseID: String, _ itemID: String) -> [String: Any] {
        ["response_id": responseID, "item_id": itemID, "output_index": 0, "content_index": 0]
    }

    private var formatObject: Any { beta ? "pcm16" as Any : ["type": "audio/pcm", "rate": RealtimeAudioConverter.clientRate] as Any }

    private func turnDetectionObject(_ detection: RealtimeTurnDetection?) -> Any {
        guard let detection else { return NSNull() }
        return [
            "type": detection.type, "threshold": detection.threshold, "silence_duration_ms": detection.silenceDurationMs,
            "prefix_padding_ms": detection.prefixPaddingMs, "create_response": detection.createResponse,
            "interrupt_response": detection.interruptResponse,
        ] as [String: Any]
    }

    private func sessionObject(_ session: RealtimeSessionState) -> [String: Any] {
        if beta {
            return [
                "id": session.id, "object": "realtime.session", "model": session.model, "modalities": ["audio", "text"],
                "instructions": session.instructions, "voice": session.voice, "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "input_audio_transcription": ["model": "whisper"], "turn_detection": turnDetectionObject(session.turnDetection),
                "tools": [], "tool_choice": "none",
            ]
        }
        return [
            "type": "realtime", "id": session.id, "object": "realtime.session", "model": session.model, "output_modalities": ["audio"],
            "instructions": session.instructions,
            "audio": [
                "input": [
                    "format": formatObject, "transcription": ["model": "whisper"],
                    "turn_detection": turnDetectionObject(session.turnDetection), "noise_reduction": NSNull(),
                ] as [String: Any],
                "output": ["format": formatObject, "voice": session.voice, "speed": 1.0] as [String: Any],
            ],
            "tools": [], "tool_choice": "none",
        ]
    }

    private func itemObject(_ item: RealtimeItem) -> [String: Any] {
        var content: [String: Any]
        switch item.kind {
        case .userAudio: content = ["type": "input_audio", "transcript": item.text ?? NSNull()]
        case .userText: content = ["type": "input_text", "text": item.text ?? ""]
        case .assistantAudio: content = ["type": beta ? "audio" : "output_audio", "transcript": item.text ?? NSNull()]
        case .assistantText: content = ["type": beta ? "text" : "output_text", "text": item.text ?? ""]
        }
        return [
            "id": item.id, "object": "realtime.item", "type": "message", "role": item.role, "status": item.status, "content": [content],
        ]
    }

    private func responseObject(_ response: RealtimeResponse) -> [String: Any] {
        var object: [String: Any] = [
            "id": response.id, "object": "realtime.response", "status": response.status,
            "output": response.output.map(itemObject), "conversation_id": "conv_duplex", "usage": NSNull(),
        ]
        if beta {
            object["modalities"] = ["audio", "text"]
            object["voice"] = response.voice
            object["output_audio_format"] = "pcm16"
        } else {
            object["output_modalities"] = ["audio"]
            object["audio"] = ["output": ["format": formatObject, "voice": response.voice]]
        }
        switch response.status {
        case "cancelled": object["status_details"] = ["type": "cancelled", "reason": response.reason ?? "client_cancelled"]
        case "failed": object["status_details"] = ["type": "failed", "error": ["type": "server_error", "message": response.reason ?? ""]]
        case "completed": object["status_details"] = ["type": "completed"]
        default: object["status_details"] = NSNull()
        }
        return object
    }
}
