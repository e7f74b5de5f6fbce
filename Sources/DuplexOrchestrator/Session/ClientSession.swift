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
    private let outbound: WebSocketOutboundWriter
    private let pool: WorkerPool
    let limits: LimitsSection
    let logger: Logger
    let state: Locked<State>
    private let framesCounter = Counter(label: "duplex_ws_frames_sent_total")
    private let firstAudioTimer = Metrics.Timer(label: "duplex_ws_first_audio_seconds")

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

    /// Switches the session to another model without holding up the conversation: an unknown
    /// model is refused at once; a resident one is bound at once; otherwise the worker loads
    /// it in the background (`model_status` `loading`, then `ready` or `failed`), the current
    /// reply carries on with the old model and the next reply uses the new one.
    private func switchModel(to model: String, on worker: WorkerConnection) async {
        let listing: Duplex_Tts_V1_ListModelsResponse
        do {
            listing = try await worker.call { client, options in
                try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
            }
        } catch {
            await send(.error(error))
            return
        }
        guard let info = listing.models.first(where: { $0.modelID == model }) else {
            // Another registered worker has it: the session moves there.
            if pool.catalogsContain(model) {
                state.withLock { s in
                    s.requestedModel = model
                    s.workerSessionOpen = false
                }
                do {
                    try await openWorkerSession(excluding: [worker.address])
                    await send(.modelStatus(modelID: model, state: "ready", message: "on worker \(state.withLock { $0.worker?.address ?? "" })"))
                } catch {
                    await send(.modelStatus(modelID: model, state: "failed", message: error.message))
                    await send(.error(error))
                }
                await sendSessionStart()
                return
            }
            let known = listing.models.map(\.modelID).sorted().joined(separator: ", ")
            await send(.error(DuplexError(.unknownModel, "No model '\(model)' on this worker; installed: \(known).")))
            return
        }
        if info.isLoaded {
            state.withLock { $0.requestedModel = model }
            do {
                try await openWorkerSession()
                await send(.modelStatus(modelID: model, state: "ready", message: nil))
            } catch {
                await send(.modelStatus(modelID: model, state: "failed", message: error.message))
                await send(.error(error))
            }
            await sendSessionStart()
            return
        }
        await send(.modelStatus(modelID: model, state: "loading", message: "The current reply continues with \(state.withLock { $0.modelID }); the next one uses \(model)."))
        let task = Task { [self] in
            var request = Duplex_Tts_V1_LoadModelRequest()
            request.modelID = model
            request.preloadOnly = true
            do {
                let loaded = try await worker.call(timeout: .seconds(120)) { [request] client, options in
                    try await client.loadModel(request, options: options)
                }
                guard !Task.isCancelled else { return }
                state.withLock { $0.requestedModel = model }
                try await openWorkerSession()
                await send(.modelStatus(modelID: model, state: "ready", message: "loaded in \(loaded.loadDurationMs) ms"))
                await sendSessionStart()
            } catch {
                guard !Task.isCancelled else { return }
                let failure = (error as? DuplexError) ?? DuplexError(.modelLoadFailed, "\(error)")
                await send(.modelStatus(modelID: model, state: "failed", message: failure.message))
                await send(.error(failure))
            }
        }
        let previous = state.withLock { s in
            defer { s.switchTask = task }
            return s.switchTask
        }
        previous?.cancel()
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

    // MARK: Replies

    /// Plays one reply. If its worker dies or stalls mid-reply, the session moves to another
    /// worker (`worker_changed`) and the reply goes on there from the clause that was playing;
    /// the frames of it already sent are dropped, so the user hears at most a short gap and
    /// never the same audio twice.
    private func play(_ reply: Reply) async {
        state.withLock { $0.currentReply = reply }
        defer { state.withLock { s in if s.currentReply === reply { s.currentReply = nil } } }
        await send(.ttsStart(turnID: reply.turnID))
        let frames = Locked(0)
        var reason = "completed"
        let clock = ContinuousClock()
        let started = clock.now
        var excluded: Set<String> = []
        var resume: (text: String, segment: Int, heardFrames: Int)?
        while true {
            var attempted: WorkerConnection?
            do throws(DuplexError) {
                if !state.withLock({ $0.workerSessionOpen }) { try await openWorkerSession(excluding: excluded) }
                guard let worker = state.withLock({ $0.worker }) else {
                    throw DuplexError(.workerUnavailable, "No worker is available.")
                }
                attempted = worker
                let segmentOffset = resume?.segment ?? 0
                let skip = Locked(resume?.heardFrames ?? 0)
                let endReason = try await synthesize(reply, on: worker, resumeText: resume?.text, frames: frames) { frame in
                    // After a failover: the frames of the resumed clause the user already heard.
                    skip.withLock { n in
                        guard n > 0 else { return false }
                        n -= 1
                        return true
                    }
                } onSent: { frame, count in
                    reply.sent(frameOfSegment: segmentOffset + Int(frame.segmentIndex), count: count)
                    if count == 1 { self.firstAudioTimer.recordNanoseconds(Int64(started.duration(to: clock.now).millisecondsDouble * 1e6)) }
                }
                reason = endReason == .stopped || reply.gate.isStopped ? "stopped" : "completed"
            } catch where error.code == .workerUnavailable && !reply.gate.isStopped && excluded.count < 3 && pool.usesFailover {
                // Fail over: the next worker continues from the first clause not yet heard.
                let from = attempted?.address ?? ""
                if !from.isEmpty { excluded.insert(from) }
                let unplayed = reply.unplayed
                resume = unplayed
                logger.warning("worker failed mid-reply; moving the session", metadata: [
                    "worker.address": "\(from)", "error.message": "\(error.message)", "reply.resume_segment": "\(unplayed.segment)",
                ])
                if let next = try? pool.pick(modelID: state.withLock { $0.requestedModel }, excluding: excluded) {
                    await send(.workerChanged(turnID: reply.turnID, from: from, to: next.address, resumeSegment: unplayed.segment))
                    continue
                }
                reason = "error"
                await send(.error(error))
            } catch {
                reason = "error"
                await send(.error(error))
            }
            break
        }
        reply.finishText()
        await send(.ttsEnd(turnID: reply.turnID, frames: frames.value, reason: reason))
    }

    /// Streams a reply's text to one worker and its frames to the client.
    private func synthesize(
        _ reply: Reply, on worker: WorkerConnection, resumeText: String?, frames: Locked<Int>,
        drop: @escaping @Sendable (Duplex_Tts_V1_AudioFrame) -> Bool,
        onSent: @escaping @Sendable (Duplex_Tts_V1_AudioFrame, Int) -> Void
    ) async throws(DuplexError) -> Duplex_Tts_V1_EndReason {
        let sessionID = id
        let delivery = state.withLock { $0.delivery }
        return try await callSynthesize(worker: worker, gate: reply.gate) { writer in
            var sequence: UInt64 = 0
            func chunk(_ text: String, final: Bool) -> Duplex_Tts_V1_TextChunk {
                sequence += 1
                var chunk = Duplex_Tts_V1_TextChunk()
                chunk.sessionID = sessionID
                chunk.text = text
                chunk.isFinal = final
                chunk.sequenceNumber = sequence
                return chunk
            }
            if let resumeText, !resumeText.isEmpty { try await writer.write(chunk(resumeText + " ", final: false)) }
            for await piece in reply.pieces {
                try await writer.write(chunk(piece.text, final: piece.isFinal))
                if piece.isFinal { return }
            }
            // Text ended without is_final (STOP, disconnect, or consumed before a failover):
            // tell the worker to flush.
            try await writer.write(chunk("", final: true))
        } onFrame: { frame in
            guard !drop(frame), await reply.gate.pass() != .stopped else { return }
            let count = frames.withLock { n in
                n += 1
                return n
            }
            onSent(frame, count)
            switch delivery {
            case .binary: try await self.outbound.write(.binary(ByteBuffer(bytes: frame.audioData)))
            case .base64: try await self.outbound.write(.text(ServerMessage.audio(pcm: frame.audioData, sequence: count).json))
            }
            self.framesCounter.increment()
            // After the first frame is on its way: the figure covers it.
            if count == 1, reply.origin != nil { await self.reportTurnMetrics(reply) }
        }
    }

    /// Runs one Synthesize call; returns the worker's end reason.
    private func callSynthesize(
        worker: WorkerConnection, gate: PlaybackGate,
        produce: @escaping @Sendable (RPCWriter<Duplex_Tts_V1_TextChunk>) async throws -> Void,
        onFrame: @escaping @Sendable (Duplex_Tts_V1_AudioFrame) async throws -> Void
    ) async throws(DuplexError) -> Duplex_Tts_V1_EndReason {
        try worker.checkRunning()
        let clock = ContinuousClock()
        // Stall watchdog: once all text is sent, a worker that sends nothing for longer than
        // the worker timeout (while not paused) is treated as gone, even if its TCP
        // connection still looks open.
        let lastActivity = Locked<ContinuousClock.Instant?>(nil)
        let stallLimit = worker.timeout
        do {
            let reason = try await withThrowingTaskGroup(of: Duplex_Tts_V1_EndReason?.self) { group in
                group.addTask {
                    try await worker.tts.synthesize(options: worker.streamOptions, requestProducer: { writer in
                        try await produce(writer)
                        lastActivity.withLock { $0 = clock.now }
                    }) { response in
                        for try await frame in response.messages {
                            lastActivity.withLock { if $0 != nil { $0 = clock.now } }
                            if frame.isFinal {
                                if !frame.audioData.isEmpty { try await onFrame(frame) }
                                return frame.endReason
                            }
                            try await onFrame(frame)
                        }
                        throw DuplexError(.workerUnavailable, "Worker \(worker.address) ended the stream without an end marker.")
                    }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .milliseconds(250))
                        let now = clock.now
                        let stalled = lastActivity.withLock { last -> Bool in
                            guard let since = last else { return false }
                            if gate.isPaused {
                                last = now
                                return false
                            }
                            return since.duration(to: now) > stallLimit
                        }
                        if stalled {
                            throw DuplexError(.workerUnavailable, "Worker \(worker.address) sent nothing for \(stallLimit).")
                        }
                    }
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }!
            pool.markHealthy(worker)
            return reason
        } catch {
            let mapped = WireErrors.duplexError(error, worker: worker.address)
            if mapped.code == .workerUnavailable || mapped.code == .sessionNotFound {
                pool.markFailed(worker)
                state.withLock { $0.workerSessionOpen = false }
                throw DuplexError(.workerUnavailable, "The worker stopped during the reply (\(mapped.message)). The next reply retries.", cause: mapped)
            }
            throw mapped
        }
    }

    // MARK: Worker session

    private func openWorkerSession(excluding: Set<String> = []) async throws(DuplexError) {
        // Session affinity: stay on the bound worker while its session is open.
        let bound = state.withLock { s in s.workerSessionOpen ? s.worker : nil }
        let worker: WorkerConnection
        if let bound {
            worker = bound
        } else {
            worker = try pool.pick(modelID: state.withLock { $0.requestedModel }, excluding: excluding, reserve: true)
        }
        let previous = state.withLock { $0.worker }
        if let previous, previous !== worker { await closeWorkerSession() }
        let (model, options) = state.withLock { ($0.requestedModel, $0.voiceOptions) }
        var request = Duplex_Tts_V1_StartSessionRequest()
        request.sessionID = id
        request.modelID = model
        request.options = options
        do {
            let response = try await worker.call { [request] client, callOptions in try await client.startSession(request, options: callOptions) }
            pool.markHealthy(worker)
            let previousBinding = state.withLock { s -> WorkerConnection? in
                defer {
                    s.worker = worker
                    s.workerSessionOpen = true
                    s.modelID = response.modelID
                }
                return s.worker
            }
            // The pool counts one session per binding: `pick` reserved the new one.
            if bound == nil, let previousBinding { pool.release(previousBinding) }
        } catch {
            if bound == nil { pool.release(worker) }
            if error.code == .workerUnavailable { pool.markFailed(worker) }
            if error.code == .unknownModel { state.withLock { $0.requestedModel = $0.modelID } }
            throw error
        }
    }

    private func closeWorkerSession(final: Bool = false) async {
        guard let worker = state.withLock({ $0.worker }) else { return }
        if final { pool.release(worker) }
        var request = Duplex_Tts_V1_EndSessionRequest()
        request.sessionID = id
        _ = try? await worker.call { [request] client, options in try await client.endSession(request, options: options) }
    }

    // MARK: Outbound

    private func sendSessionStart() async {
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
