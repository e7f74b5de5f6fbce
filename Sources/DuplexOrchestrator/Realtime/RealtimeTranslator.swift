import DuplexCore
import DuplexEngine
import Foundation

/// Translates between the OpenAI Realtime API and the conversation engine, holding only the
/// protocol's own bookkeeping: ids of events, items and responses, which user item awaits its
/// transcript, how much reply audio each response sent (for truncation), and the session
/// settings the protocol echoes. Turns, playback, barge-in and the history are the engine's.
///
/// Pure: each transition returns what to send the engine and the client; the caller performs it.
struct RealtimeTranslator {
    /// What a client event becomes.
    struct Step {
        var inputs: [SessionInput] = []
        var events: [RealtimeServerEvent] = []
    }

    /// The engine's `session_start`s and what each answers.
    enum SessionLifecycle: Equatable {
        /// Before the first one (the worker session opening): it is `session.created`;
        /// `updates` client updates came meanwhile.
        case opening(updates: Int)
        /// Open; `absorbed` internal starts and `updates` client updates are waiting for
        /// their `session_start`, in that order.
        case open(absorbed: Int, updates: Int)
    }

    /// The user's input audio buffer.
    enum InputState: Equatable {
        /// No speech under way.
        case idle
        /// The VAD heard speech start: the user item it will become.
        case speaking(itemID: String)
    }

    /// One response: one assistant audio item, played by one engine turn.
    struct ResponseState: Equatable {
        var id: String
        var turnID: String
        var itemID: String
        /// Reply audio sent (ms of 48 kHz frames).
        var audioMs = 0
        var transcript = ""
        /// Why it stops, once known (`turn_detected`, `client_cancelled`).
        var cancelReason: String?
        /// The barge-in's truncation, reported after `response.done`.
        var truncatedAtMs: Int?
    }

    /// A conversation item, for delete and truncate.
    struct ItemRecord: Equatable {
        var id: String
        var isAssistant: Bool
        var audioMs: Int
    }

    let dialect: RealtimeDialect
    let defaultVoices: Set<String>
    private(set) var session: RealtimeSessionState
    private(set) var lifecycle = SessionLifecycle.opening(updates: 0)
    private(set) var input = InputState.idle
    /// User items committed and waiting for their transcript, oldest first.
    private(set) var awaitingTranscript: [String] = []
    /// Partial transcript so far of the item being spoken (for deltas).
    private var partial = ""
    /// Responses whose end has not been reported, oldest first.
    private(set) var responses: [ResponseState] = []
    /// A `response.create` is waiting for its engine turn.
    private(set) var responseRequested = false
    /// Engine turns already reported as responses (their late events are ignored).
    private var finishedTurns: [String] = []
    private(set) var items: [ItemRecord] = []
    /// Bytes appended since the last commit or clear (manual turns).
    private(set) var pendingInputBytes = 0
    /// Input audio appended in all (ms at 24 kHz).
    private(set) var inputMs = 0
    private var inputBytes = 0
    private var counter = 0

    /// OpenAI's voice names: they speak with the server's default model.
    static let openAIVoices: Set<String> = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar", "fable", "onyx", "nova"]

    init(sessionID: String, model: String, dialect: RealtimeDialect, defaultVoices: Set<String> = Self.openAIVoices) {
        self.dialect = dialect
        self.defaultVoices = defaultVoices
        session = RealtimeSessionState(id: sessionID, model: model)
    }

    /// The engine's first input: a conversation session hearing 24 kHz audio; its
    /// `session_start` is not reported. Live partial transcripts are off: on a small machine
    /// their Whisper runs compete with the turn's own transcript (speech-to-speech was
    /// 100–400 ms slower with them), so the transcription delta is the final text, once (as
    /// OpenAI's `whisper-1` sends it).
    mutating func opening() -> SessionInput {
        .start(SessionOptions(mode: .conversation, inputSampleRate: RealtimeAudioConverter.clientRate, partialTranscripts: false))
    }

    private mutating func nextID(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)_\(String(session.id.prefix(8)))\(counter)"
    }

    // MARK: Client events

    /// A client event.
    mutating func client(_ event: RealtimeClientEvent) -> Step {
        switch event {
        case .sessionUpdate(let update, _):
            var options = SessionOptions()
            if let instructions = update.instructions {
                session.instructions = instructions
                options.instructions = instructions
            }
            if let voice = update.voice {
                session.voice = voice
                options.modelID = defaultVoices.contains(voice) ? nil : voice
            }
            if let detection = update.turnDetection {
                session.turnDetection = detection
                options.turnTaking = detection.map { .automatic(respond: $0.createResponse, interrupt: $0.interruptResponse) } ?? .manual
                if detection == nil { input = .idle }
            }
            switch lifecycle {
            case .opening(let updates): lifecycle = .opening(updates: updates + 1)
            case .open(let absorbed, let updates): lifecycle = .open(absorbed: absorbed, updates: updates + 1)
            }
            return Step(inputs: [.start(options)])

        case .appendAudio(let pcm, _):
            pendingInputBytes += pcm.count
            inputBytes += pcm.count
            inputMs = inputBytes / (2 * RealtimeAudioConverter.clientRate / 1000)
            return Step(inputs: [.audio(pcm)])

        case .commitAudio(let eventID):
            guard session.turnDetection == nil else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "turn_detection_active", "With turn_detection on, the server commits the audio buffer; set it to null for manual turns.",
                    eventID: eventID))])
            }
            guard pendingInputBytes > 0 else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "input_audio_buffer_commit_empty", "The input audio buffer is empty; append audio before committing.", eventID: eventID))])
            }
            pendingInputBytes = 0
            let itemID = nextID("item")
            return Step(inputs: [.commitTurn], events: userAudioCommitted(itemID))

        case .clearAudio:
            pendingInputBytes = 0
            return Step(inputs: [.clearTurn], events: [.cleared])

        case .createItem(let message, _, let eventID):
            guard message.role != .system else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "invalid_value", "System messages are not supported; set session instructions instead.", param: "item.role",
                    eventID: eventID))])
            }
            if let id = message.id, items.contains(where: { $0.id == id }) {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "invalid_value", "An item with id \(id.prefix(64)) already exists.", param: "item.id", eventID: eventID))])
            }
            let isAssistant = message.role == .assistant
            let item = RealtimeItem(
                id: message.id ?? nextID("item"), kind: isAssistant ? .assistantText : .userText, status: "completed", text: message.text)
            let previous = items.last?.id
            remember(ItemRecord(id: item.id, isAssistant: isAssistant, audioMs: 0))
            return Step(
                inputs: [.addToHistory(HistoryMessage(role: isAssistant ? .assistant : .user, text: message.text))],
                events: [.itemAdded(item, previousItemID: previous), .itemDone(item, previousItemID: previous)])

        case .deleteItem(let itemID, let eventID):
            guard let index = items.firstIndex(where: { $0.id == itemID }) else {
                return Step(events: [itemNotFound(itemID, eventID: eventID)])
            }
            items.remove(at: index)
            return Step(events: [.itemDeleted(itemID: itemID)])

        case .truncateItem(let itemID, _, let audioEndMs, let eventID):
            guard let record = items.first(where: { $0.id == itemID }) ?? responses.first(where: { $0.itemID == itemID }).map({
                ItemRecord(id: $0.itemID, isAssistant: true, audioMs: $0.audioMs)
            }) else {
                return Step(events: [itemNotFound(itemID, eventID: eventID)])
            }
            guard record.isAssistant else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "invalid_value", "Only assistant audio items can be truncated.", param: "item_id", eventID: eventID))])
            }
            guard audioEndMs <= record.audioMs else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "invalid_value", "audio_end_ms \(audioEndMs) is past the item's audio (\(record.audioMs) ms).", param: "audio_end_ms",
                    eventID: eventID))])
            }
            return Step(events: [.itemTruncated(itemID: itemID, audioEndMs: audioEndMs)])

        case .createResponse(let eventID):
            guard responses.isEmpty, !responseRequested else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "conversation_already_has_active_response", "A response is already in progress; cancel it or wait for response.done.",
                    eventID: eventID))])
            }
            responseRequested = true
            return Step(inputs: [.respond(userText: nil)])

        case .cancelResponse(let eventID):
            guard !responses.isEmpty else {
                return Step(events: [.error(RealtimeProtocolError(
                    code: "response_cancel_not_active", "There is no response to cancel.", eventID: eventID))])
            }
            for index in responses.indices where responses[index].cancelReason == nil {
                responses[index].cancelReason = "client_cancelled"
            }
            return Step(inputs: [.control(.stop)])
        }
    }

    private func itemNotFound(_ itemID: String, eventID: String?) -> RealtimeServerEvent {
        .error(RealtimeProtocolError(code: "item_not_found", "No item with id \(itemID.prefix(64)).", param: "item_id", eventID: eventID))
    }

    private mutating func remember(_ record: ItemRecord) {
        items.append(record)
        if items.count > 256 { items.removeFirst(items.count - 256) }
    }

    /// A user audio item was committed (by the VAD or the client): it awaits its transcript.
    private mutating func userAudioCommitted(_ itemID: String) -> [RealtimeServerEvent] {
        let previous = items.last?.id
        remember(ItemRecord(id: itemID, isAssistant: false, audioMs: 0))
        awaitingTranscript.append(itemID)
        let item = RealtimeItem(id: itemID, kind: .userAudio, status: "completed", text: nil)
        return [.committed(itemID: itemID, previousItemID: previous), .itemAdded(item, previousItemID: previous)]
    }

    // MARK: Engine events

    /// An engine event.
    mutating func engine(_ event: SessionEvent) -> [RealtimeServerEvent] {
        switch event {
        case .sessionStarted:
            switch lifecycle {
            case .opening(let updates):
                // The worker session is open: the internal start's answer is still to come.
                lifecycle = .open(absorbed: 1, updates: updates)
                return [.sessionCreated(session)]
            case .open(let absorbed, let updates) where absorbed > 0:
                lifecycle = .open(absorbed: absorbed - 1, updates: updates)
                return []
            case .open(_, let updates) where updates > 0:
                lifecycle = .open(absorbed: 0, updates: updates - 1)
                return [.sessionUpdated(session)]
            case .open:
                return []
            }

        case .voiceActivity(.speechStart, let atMs, _):
            guard case .idle = input else { return [] }
            let itemID = nextID("item")
            input = .speaking(itemID: itemID)
            partial = ""
            return [.speechStarted(itemID: itemID, audioStartMs: atMs)]

        case .voiceActivity(.speechEnd, let atMs, _):
            guard case .speaking(let itemID) = input else { return [] }
            input = .idle
            return [.speechStopped(itemID: itemID, audioEndMs: atMs)] + userAudioCommitted(itemID)

        case .partialTranscript(let text):
            guard case .speaking(let itemID) = input, text.hasPrefix(partial), text.count > partial.count else { return [] }
            let delta = String(text.dropFirst(partial.count))
            partial = text
            return [.transcriptionDelta(itemID: itemID, delta: delta)]

        case .transcript(let text, _, _):
            guard !awaitingTranscript.isEmpty else { return [] }
            let itemID = awaitingTranscript.removeFirst()
            let previous = items.firstIndex { $0.id == itemID }.flatMap { $0 > 0 ? items[$0 - 1].id : nil }
            var events: [RealtimeServerEvent] = []
            if !partial.isEmpty, awaitingTranscript.isEmpty, text.hasPrefix(partial), text.count > partial.count {
                events.append(.transcriptionDelta(itemID: itemID, delta: String(text.dropFirst(partial.count))))
            } else if partial.isEmpty, !text.isEmpty {
                events.append(.transcriptionDelta(itemID: itemID, delta: text))
            }
            partial = ""
            events.append(.transcriptionCompleted(itemID: itemID, transcript: text))
            events.append(.itemDone(RealtimeItem(id: itemID, kind: .userAudio, status: "completed", text: text), previousItemID: previous))
            return events

        case .replyStarted(let turnID):
            return opened(turnID).events

        case .replyText(let text, let isFinal, let turnID):
            if isFinal {
                // The text's end; the response ends with its audio. A requested reply with no
                // text has no audio: it ends here.
                if let index = responses.firstIndex(where: { $0.turnID == turnID }) {
                    responses[index].transcript = text
                    return []
                }
                guard !finishedTurns.contains(turnID), responseRequested else { return [] }
                return opened(turnID).events + finish(turnID: turnID, reason: .completed)
            }
            var (events, index) = opened(turnID)
            guard let index else { return events }
            responses[index].transcript += text
            events.append(.transcriptDelta(responseID: responses[index].id, itemID: responses[index].itemID, delta: text))
            return events

        case .audio(let turnID, let pcm, _):
            var (events, index) = opened(turnID)
            guard let index else { return events }
            responses[index].audioMs += OutputFormat.frameMilliseconds
            events.append(.audioDelta(responseID: responses[index].id, itemID: responses[index].itemID, pcm: pcm))
            return events

        case .replyEnded(let turnID, _, let reason, _):
            return finish(turnID: turnID, reason: reason)

        case .bargeIn(let report):
            var events: [RealtimeServerEvent] = []
            if case .idle = input, awaitingTranscript.isEmpty {
                // The barge-in detector is faster than the turn VAD: the user's item starts here.
                // (A reply replaced by a turn already transcribing has its user item.)
                let itemID = nextID("item")
                input = .speaking(itemID: itemID)
                partial = ""
                events.append(.speechStarted(itemID: itemID, audioStartMs: inputMs))
            }
            if let index = responses.firstIndex(where: { $0.turnID == report.turnID }) {
                responses[index].cancelReason = responses[index].cancelReason ?? "turn_detected"
                responses[index].truncatedAtMs = min(report.heardMs, responses[index].audioMs)
            }
            return events

        case .error(let error):
            // A requested reply that failed before it began will not begin.
            if responses.isEmpty { responseRequested = false }
            return [.error(RealtimeProtocolError(error))]

        case .sessionEnded, .modelStatus, .turnProbe, .bargeInResumed, .workerChanged, .turnMetrics:
            return []
        }
    }

    /// The response playing `turnID`, opened on its first event (`response.created`, the
    /// output item and its audio part). Nil index: the turn already finished.
    private mutating func opened(_ turnID: String) -> (events: [RealtimeServerEvent], index: Int?) {
        if let index = responses.firstIndex(where: { $0.turnID == turnID }) { return ([], index) }
        guard !finishedTurns.contains(turnID) else { return ([], nil) }
        responseRequested = false
        let response = ResponseState(id: nextID("resp"), turnID: turnID, itemID: nextID("item"))
        responses.append(response)
        let previous = items.last?.id
        remember(ItemRecord(id: response.itemID, isAssistant: true, audioMs: 0))
        let item = RealtimeItem(id: response.itemID, kind: .assistantAudio, status: "in_progress", text: nil)
        return ([
            .responseCreated(RealtimeResponse(id: response.id, status: "in_progress", voice: session.voice)),
            .outputItemAdded(responseID: response.id, item),
            .itemAdded(item, previousItemID: previous),
            .contentPartAdded(responseID: response.id, itemID: response.itemID),
        ], responses.count - 1)
    }

    /// Ends the response playing `turnID`: the audio, transcript, part and item end, then the
    /// response (`completed`, or `cancelled` with why), then a barge-in's truncation.
    private mutating func finish(turnID: String, reason: ReplyEndReason) -> [RealtimeServerEvent] {
        guard let index = responses.firstIndex(where: { $0.turnID == turnID }) else { return [] }
        let response = responses.remove(at: index)
        finishedTurns.append(turnID)
        if finishedTurns.count > 16 { finishedTurns.removeFirst() }
        if let record = items.firstIndex(where: { $0.id == response.itemID }) { items[record].audioMs = response.audioMs }
        let status: String
        switch reason {
        case .completed: status = response.cancelReason == nil ? "completed" : "cancelled"
        case .stopped: status = "cancelled"
        case .error: status = "failed"
        }
        let item = RealtimeItem(
            id: response.itemID, kind: .assistantAudio, status: status == "completed" ? "completed" : "incomplete", text: response.transcript)
        var events: [RealtimeServerEvent] = [
            .audioDone(responseID: response.id, itemID: response.itemID),
            .transcriptDone(responseID: response.id, itemID: response.itemID, transcript: response.transcript),
            .contentPartDone(responseID: response.id, itemID: response.itemID, transcript: response.transcript),
            .outputItemDone(responseID: response.id, item),
            .itemDone(item, previousItemID: nil),
            .responseDone(RealtimeResponse(
                id: response.id, status: status,
                reason: status == "cancelled" ? response.cancelReason ?? "client_cancelled" : status == "failed" ? "The reply could not be spoken." : nil,
                output: [item], voice: session.voice)),
        ]
        if let truncated = response.truncatedAtMs {
            events.append(.itemTruncated(itemID: response.itemID, audioEndMs: truncated))
        }
        return events
    }
}
