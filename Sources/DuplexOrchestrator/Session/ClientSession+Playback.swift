import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore

/// Playing replies on a worker, failing over to another, and the worker session itself.
extension ClientSession {
    // MARK: Replies

    /// Plays one reply. If its worker dies or stalls mid-reply, the session moves to another
    /// worker (`worker_changed`) and the reply goes on there from the clause that was playing;
    /// the frames of it already sent are dropped, so the user hears at most a short gap and
    /// never the same audio twice.
    func play(_ reply: Reply) async {
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

    func openWorkerSession(excluding: Set<String> = []) async throws(DuplexError) {
        // Session affinity: stay on the bound worker while its session is open.
        let bound = state.withLock { s in s.workerSessionOpen ? s.worker : nil }
        let worker: WorkerConnection
        if let bound {
            worker = bound
        } else {
            let (model, language) = state.withLock { ($0.requestedModel, $0.voiceOptions["language"]) }
            worker = try pool.pick(modelID: model, language: language, excluding: excluding, reserve: true)
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

    func closeWorkerSession(final: Bool = false) async {
        guard let worker = state.withLock({ $0.worker }) else { return }
        if final { pool.release(worker) }
        var request = Duplex_Tts_V1_EndSessionRequest()
        request.sessionID = id
        _ = try? await worker.call { [request] client, options in try await client.endSession(request, options: options) }
    }
}
