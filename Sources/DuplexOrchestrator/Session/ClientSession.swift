import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore

/// One WebSocket client: protocol v1 in TTS mode. Text pieces become replies that are
/// synthesized by a worker and streamed back as 20 ms frames; control messages act on the
/// worker stream at once. Replies play one after another; a bad message gets an `error`
/// and never ends the session.
final class ClientSession: Sendable {
    struct State {
        var worker: WorkerConnection?
        var workerSessionOpen = false
        var modelID = ""
        var requestedModel = ""
        var delivery = ClientMessage.AudioDelivery.binary
        var voiceOptions: [String: String] = [:]
        var openReply: Reply?
        var currentReply: Reply?
        var turnCounter = 0
        /// A model load started by `start`, finishing in the background.
        var switchTask: Task<Void, Never>?
        /// Conversation mode: the microphone input, and a reply paused by user speech that is
        /// not yet confirmed as an interruption.
        var input: SpeechInput?
        var mode = "tts"
        /// User speech paused the playing reply; not yet confirmed as an interruption.
        var interruption: Interruption?
        /// The barge-in detector hears speech (its onset, input ms).
        var edgeOnsetMs: Int?
        /// The latest barge-in edge's onset, for telling the user from the reply's echo.
        var lastEdgeOnsetMs: Int?
        var history: ConversationHistory
        /// The latest conversation reply and the task streaming its text from the responder.
        var conversationReply: Reply?
        var responderTask: Task<Void, Never>?
        /// Replies whose text is still being generated, with what the user heard of them
        /// when they were interrupted meanwhile (recorded in the history when generation ends).
        var generating: [ObjectIdentifier: Generating] = [:]
        /// A transcript started when the user paused (input ms of the pause).
        var speculative: Speculative?
    }

    /// A transcript made during a pause in the user's speech.
    struct Speculative: Sendable {
        var atMs: Int
        var task: Task<(text: String, decodeMs: Int)?, Never>
    }

    /// A reply paused by user speech.
    struct Interruption {
        var reply: Reply
        var onsetMs: Int
        var detectedAt: ContinuousClock.Instant
        /// The speech was short enough to be a backchannel: its transcript decides.
        var awaitingTranscript = false
    }

    struct Generating {
        var interruptedHeard: String?
    }

    let id: String
    let outbound: WebSocketOutboundWriter
    let pool: WorkerPool
    let limits: LimitsSection
    let logger: Logger
    let state: Locked<State>
    let framesCounter = Counter(label: "duplex_ws_frames_sent_total")
    let firstAudioTimer = Metrics.Timer(label: "duplex_ws_first_audio_seconds")

    let speech: SpeechServices?
    let conversation: ConversationSection
    /// `conversation.backchannels`, for lookups.
    let backchannels: Set<String>
    let responder: any Responder
    let metrics = ConversationMetrics.shared

    init(
        id: String, outbound: WebSocketOutboundWriter, pool: WorkerPool, limits: LimitsSection, logger: Logger,
        speech: SpeechServices? = nil, conversation: ConversationSection = ConversationSection(),
        responder: any Responder = EchoResponder()
    ) {
        self.speech = speech
        self.conversation = conversation
        self.backchannels = Set(conversation.backchannels)
        self.responder = responder
        self.state = Locked(State(history: ConversationHistory(limit: conversation.maxHistoryMessages)))
        self.id = id
        self.outbound = outbound
        self.pool = pool
        self.limits = limits
        var logger = logger
        logger[metadataKey: "session.id"] = "\(id)"
        self.logger = logger
    }

    /// Serves the connection until the client closes it.
    func run(inbound: WebSocketInboundStream) async {
        do {
            try await openWorkerSession()
        } catch {
            await send(.error(error))
        }
        await sendSessionStart()
        let replies = AsyncBoundedQueue<Reply>(capacity: limits.maxQueuedReplies)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let reply = try? await replies.next() {
                    await self.play(reply)
                }
            }
            do {
                for try await message in inbound.messages(maxSize: 64 << 20) {
                    switch message {
                    case .text(let text):
                        await handle(text: text, replies: replies)
                    case .binary(let buffer) where state.withLock({ $0.input }) != nil:
                        if buffer.readableBytes > limits.maxMessageBytes {
                            await send(.error(DuplexError(.messageTooLarge, "Audio message of \(buffer.readableBytes) bytes exceeds limits.max_message_bytes (\(limits.maxMessageBytes)).")))
                        } else {
                            await hearAudio(Data(buffer.readableBytesView), replies: replies)
                        }
                    case .binary(let buffer):
                        if buffer.readableBytes > limits.maxMessageBytes {
                            await send(.error(DuplexError(.messageTooLarge, "Message of \(buffer.readableBytes) bytes exceeds limits.max_message_bytes (\(limits.maxMessageBytes)).")))
                        } else {
                            await send(.error(DuplexError(.invalidMessage, "Binary audio input is only accepted in conversation mode.")))
                        }
                    }
                }
            } catch {
                logger.debug("client connection ended", metadata: ["error.message": "\(error)"])
            }
            // The client is gone: stop the current reply and drop queued ones.
            replies.finish()
            let (open, current) = state.withLock { s in (s.openReply, s.currentReply) }
            open?.finishText()
            current?.gate.stop()
            current?.finishText()
            state.withLock { $0.switchTask }?.cancel()
            state.withLock { $0.responderTask }?.cancel()
            group.cancelAll()
        }
        await closeWorkerSession(final: true)
    }

    // MARK: Inbound

    private func handle(text: String, replies: AsyncBoundedQueue<Reply>) async {
        guard text.utf8.count <= limits.maxMessageBytes else {
            await send(.error(DuplexError(.messageTooLarge, "Message of \(text.utf8.count) bytes exceeds limits.max_message_bytes (\(limits.maxMessageBytes)).")))
            return
        }
        let message: ClientMessage
        do {
            message = try ClientMessage.parse(text, maxTextCharacters: limits.maxTextChars)
        } catch {
            await send(.error(error))
            return
        }
        switch message {
        case .start(let options):
            await start(options)
        case .text(let body, let isFinal):
            await appendText(body, isFinal: isFinal, replies: replies)
        case .control(let command):
            await control(command)
        }
    }

    private func start(_ options: ClientMessage.StartOptions) async {
        if options.mode == "conversation" || (options.mode == nil && options.inputSampleRate != nil && state.withLock({ $0.input }) != nil) {
            guard let speech else {
                await send(.error(DuplexError(.invalidMessage, "Conversation mode needs the VAD and ASR models, which this server did not load (see `duplex doctor`).")))
                return
            }
            do {
                let input = try SpeechInput(inputSampleRate: options.inputSampleRate ?? 16_000, services: speech)
                state.withLock { s in
                    s.input = input
                    s.mode = "conversation"
                }
            } catch {
                await send(.error(error))
                return
            }
        } else if options.mode == "tts" {
            state.withLock { s in
                s.input = nil
                s.mode = "tts"
            }
        }
        let (switching, worker) = state.withLock { s -> (String?, WorkerConnection?) in
            if let delivery = options.audioFormat { s.delivery = delivery }
            s.voiceOptions.merge(options.voiceOptions) { _, new in new }
            guard let model = options.modelID, model != s.modelID, s.workerSessionOpen, let worker = s.worker else {
                if let model = options.modelID { s.requestedModel = model }
                return (nil, nil)
            }
            return (model, worker)
        }
        if let model = switching, let worker {
            await switchModel(to: model, on: worker)
            return
        }
        do {
            try await openWorkerSession()
        } catch {
            await send(.error(error))
        }
        await sendSessionStart()
    }

    func appendText(_ body: String, isFinal: Bool, replies: AsyncBoundedQueue<Reply>) async {
        enum Outcome { case appended(Reply), create(Reply) }
        let outcome = state.withLock { s -> Outcome in
            if let open = s.openReply { return .appended(open) }
            s.turnCounter += 1
            let reply = Reply(turnID: "\(id)-t\(s.turnCounter)", maxCharacters: limits.maxReplyChars)
            s.openReply = reply
            return .create(reply)
        }
        let reply: Reply
        switch outcome {
        case .appended(let open): reply = open
        case .create(let new):
            guard replies.count < limits.maxQueuedReplies else {
                state.withLock { $0.openReply = nil }
                await send(.error(DuplexError(.overloaded, "\(limits.maxQueuedReplies) replies are already queued (limits.max_queued_replies); wait for tts_end or STOP.")))
                return
            }
            do {
                try await replies.send(new)
            } catch {
                return
            }
            reply = new
        }
        do {
            try reply.append(body, isFinal: isFinal)
        } catch {
            await send(.error(error))
        }
        if isFinal {
            state.withLock { s in if s.openReply === reply { s.openReply = nil } }
        }
    }

    private func control(_ command: ClientMessage.ControlCommand) async {
        guard let reply = state.withLock({ $0.currentReply }) else { return }
        switch command {
        case .pause:
            // Gate first: no frame leaves the orchestrator from now on, whatever is in flight.
            reply.gate.pause()
            await workerControl(.pause)
        case .resume:
            await workerControl(.resume)
            reply.gate.resume()
        case .stop:
            reply.gate.stop()
            reply.finishText()
            state.withLock { s in if s.openReply === reply { s.openReply = nil } }
            await workerControl(.stop)
        }
    }

    func workerControl(_ command: Duplex_Tts_V1_ControlCommand) async {
        guard let worker = state.withLock({ $0.worker }) else { return }
        var request = Duplex_Tts_V1_ControlRequest()
        request.sessionID = id
        request.command = command
        do {
            _ = try await worker.call { [request] client, options in try await client.control(request, options: options) }
        } catch {
            logger.warning("worker control failed", metadata: ["error.message": "\(error)"])
        }
    }

    // MARK: Outbound

    func sendSessionStart() async {
        let (model, delivery, mode) = state.withLock { ($0.modelID, $0.delivery, $0.mode) }
        let worker = state.withLock { $0.workerSessionOpen ? $0.worker?.address ?? "" : "" }
        await send(.sessionStart(sessionID: id, modelID: model, audioFormat: delivery, mode: mode, worker: worker))
    }

    func send(_ message: ServerMessage) async {
        do {
            try await outbound.write(.text(message.json))
        } catch {
            logger.debug("could not send to client", metadata: ["error.message": "\(error)"])
        }
    }
}
