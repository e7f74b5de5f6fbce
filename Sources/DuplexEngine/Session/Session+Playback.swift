import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import Logging
import Metrics
import Synchronization

/// The playback lane: replies play one after another, each as one `Synthesize` stream per
/// worker it runs on.
extension Session {
    func runPlaybackLane() async {
        await probe.tracking {
            while let reply = try? await replies.next() {
                await play(reply)
            }
        }
    }

    /// How one synthesis attempt ended.
    enum AttemptOutcome: Sendable {
        /// All text spoken.
        case completed
        /// The reply was stopped (client STOP, barge-in, teardown).
        case stopped
        /// The worker failed (or stalled).
        case failed(DuplexError)
    }

    /// Plays one reply. If its worker dies or stalls mid-reply, the session moves to another
    /// worker (`worker_changed`) and the reply goes on there from the clause that was
    /// playing; the frames of it already sent are skipped, so the user hears at most a short
    /// gap and never the same audio twice.
    func play(_ reply: Reply) async {
        let started = now
        await output.write(.replyStarted(turnID: reply.turnID))
        guard machine.withLock({ $0.replyWillPlay(reply) }) else {
            // Stopped while it waited (STOP, a newer turn, or the client left).
            await output.write(.replyEnded(turnID: reply.turnID, frames: 0, reason: .stopped, lateFrames: 0))
            machine.withLock { $0.replyDidEnd(reply) }
            return
        }
        var reason = ReplyEndReason.completed
        var failure: DuplexError? = quota?.admitAudioOut()
        if failure != nil {
            // Over the key's audio budget: the reply ends before it speaks.
            reason = .error
            _ = reply.stop(.client)
        }
        var excluded: Set<String> = []
        var resume: ReplyTranscript.ResumePoint?
        var next: WorkerBinding?
        var attempt = 0
        attempts: while reply.stopReason == nil {
            let binding: WorkerBinding
            if let moved = next {
                binding = moved
            } else {
                switch await requestBinding({ .ensure($0) }) {
                case .success(let bound): binding = bound
                case .failure(let error):
                    reason = .error
                    failure = error
                    break attempts
                case nil:
                    reason = .stopped
                    break attempts
                }
            }
            attempt += 1
            switch await synthesize(reply, on: binding, attempt: attempt, resume: resume, startedAt: started) {
            case .completed:
                reason = .completed
                break attempts
            case .stopped:
                reason = .stopped
                break attempts
            case .failed(let error):
                guard reply.stopReason == nil else { break attempts }
                guard error.code == .workerUnavailable || error.code == .sessionNotFound else {
                    reason = .error
                    failure = error
                    break attempts
                }
                let address = binding.worker.address
                pool.markFailed(binding.worker)
                excluded.insert(address)
                let gone = DuplexError(.workerUnavailable, "The worker stopped during the reply (\(error.message)). The next reply retries.", cause: error)
                guard pool.usesFailover, attempt <= configuration.maxFailovers else {
                    _ = try? await bindingJobs.send(.unbind(binding))
                    reason = .error
                    failure = gone
                    break attempts
                }
                // Fail over: the next worker continues from the first clause not yet heard.
                let point = reply.beginResume()
                logger.warning("worker failed mid-reply; moving the session", metadata: [
                    "worker.address": "\(address)", "error.message": "\(error.message)", "reply.resume_segment": "\(point.segment)",
                ])
                switch await requestBinding({ .failover(from: binding, excluding: excluded, $0) }) {
                case .success(let moved):
                    metrics.failovers.increment()
                    await output.write(.workerChanged(
                        turnID: reply.turnID, from: address, to: moved.worker.address, resumeSegment: point.segment, modelID: moved.modelID))
                    resume = point
                    next = moved
                case .failure:
                    reason = .error
                    failure = gone
                    break attempts
                case nil:
                    reason = .stopped
                    break attempts
                }
            }
        }
        reply.finishText()
        if let stopped = reply.stopReason {
            reason = .stopped
            // `barge_in` (written by the lane that decided it) comes before `tts_end`.
            if case .bargeIn = stopped { await reply.bargeInAnnounced.wait() }
        }
        if let failure { await output.write(.error(failure)) }
        quota?.chargeAudioOut(seconds: Double(reply.framesSent) * 0.02)
        await output.write(.replyEnded(turnID: reply.turnID, frames: reply.framesSent, reason: failure != nil ? .error : reason, lateFrames: reply.lateFrames))
        machine.withLock { $0.replyDidEnd(reply) }
    }

    /// Streams a reply's text to one worker and its frames to the client, until the worker
    /// ends the stream, the reply is stopped (at once, without waiting for the worker), or
    /// the worker fails or stalls.
    private func synthesize(
        _ reply: Reply, on binding: WorkerBinding, attempt: Int, resume: ReplyTranscript.ResumePoint?, startedAt: Duration
    ) async -> AttemptOutcome {
        let worker = binding.worker
        let synthesisID = "\(reply.turnID)-a\(attempt)"
        let target = SynthesisTarget(worker: worker, sessionID: id, synthesisID: synthesisID)
        reply.synthesis = target
        // A reply held when its worker changes stays held on the new one.
        mailbox.retarget(target, paused: reply.gate.isPaused)
        let activity = Locked(Activity())
        return await withTaskGroup(of: AttemptOutcome?.self) { group in
            group.addTask {
                await self.stream(reply, to: worker, synthesisID: synthesisID, resume: resume, activity: activity, startedAt: startedAt)
            }
            group.addTask {
                // STOP or barge-in: the reply ends now, whatever the worker does.
                await reply.gate.waitForStop()
                return Task.isCancelled ? nil : .stopped
            }
            group.addTask {
                await self.watch(worker, reply: reply, activity: activity)
            }
            var outcome: AttemptOutcome?
            while outcome == nil, let next = await group.next() {
                outcome = next
            }
            group.cancelAll()
            return outcome ?? .stopped
        }
    }

    /// What the stall watchdog knows.
    struct Activity: Sendable {
        /// Set once all text was sent, then on every frame: the worker must send something
        /// within the stall timeout of it (while not paused).
        var last: Duration?
    }

    /// Names the client's key as the synthesis's tenant (`duplex-tenant`), so a worker's
    /// inference scheduler shares its cores fairly between keys (docs/ABI.md).
    var tenantMetadata: Metadata {
        guard let quota else { return [:] }
        return ["duplex-tenant": .string(quota.key)]
    }

    /// The `Synthesize` call.
    private func stream(
        _ reply: Reply, to worker: WorkerConnection, synthesisID: String, resume: ReplyTranscript.ResumePoint?,
        activity: Locked<Activity>, startedAt: Duration
    ) async -> AttemptOutcome? {
        let sessionID = id
        let skip = Locked(resume?.heardFrames ?? 0)
        do {
            try worker.checkRunning()
            let end = try await worker.tts.synthesize(metadata: tenantMetadata, options: worker.streamOptions, requestProducer: { writer in
                var sequence: UInt64 = 0
                func chunk(_ text: String, final: Bool) -> Duplex_Tts_V1_TextChunk {
                    sequence += 1
                    var chunk = Duplex_Tts_V1_TextChunk()
                    chunk.sessionID = sessionID
                    chunk.text = text
                    chunk.isFinal = final
                    chunk.sequenceNumber = sequence
                    if sequence == 1 { chunk.synthesisID = synthesisID }
                    return chunk
                }
                if let resume, !resume.text.isEmpty {
                    reply.resumeSent(resume.text)
                    try await writer.write(chunk(resume.text, final: false))
                }
                for await piece in reply.pieces {
                    reply.textSent(piece)
                    try await writer.write(chunk(piece.text, final: piece.isFinal))
                    if piece.isFinal {
                        activity.withLock { $0.last = self.now }
                        return
                    }
                }
                // Text ended without is_final (STOP, the responder ended, the client left):
                // tell the worker to flush.
                reply.textEnded()
                try await writer.write(chunk("", final: true))
                activity.withLock { $0.last = self.now }
            }) { response in
                for try await frame in response.messages {
                    self.probe?.frameFromWorker()
                    activity.withLock { if $0.last != nil { $0.last = self.now } }
                    if frame.isFinal {
                        reply.addLateFrames(Int(frame.lateFrames))
                        if !frame.audioData.isEmpty { await self.deliver(frame, of: reply, skip: skip, startedAt: startedAt) }
                        return frame.endReason
                    }
                    await self.deliver(frame, of: reply, skip: skip, startedAt: startedAt)
                }
                throw DuplexError(.workerUnavailable, "Worker \(worker.address) ended the stream without an end marker.")
            }
            pool.markHealthy(worker)
            return end == .stopped || reply.stopReason != nil ? .stopped : .completed
        } catch {
            if reply.stopReason != nil { return .stopped }
            if Task.isCancelled { return nil }
            return .failed(WireErrors.duplexError(error, worker: worker.address))
        }
    }

    /// One frame from the worker: skipped if it repeats audio heard before a failover, held
    /// while the reply is paused, dropped once it is stopped, else sent.
    private func deliver(_ frame: Duplex_Tts_V1_AudioFrame, of reply: Reply, skip: Locked<Int>, startedAt: Duration) async {
        let announced: TextSegmenter.Segment? = frame.hasSegmentStart
            ? TextSegmenter.Segment(
                text: frame.segmentStart.text,
                range: Int(clamping: frame.segmentStart.inputStart)..<Int(clamping: max(frame.segmentStart.inputStart, frame.segmentStart.inputEnd)))
            : nil
        let segment = Int(frame.segmentIndex)
        let skipped = skip.withLock { n -> Bool in
            guard n > 0 else { return false }
            n -= 1
            return true
        }
        if skipped {
            // Heard already (before the failover): it counts, it is not sent again.
            _ = reply.frameSent(segment: segment, announced: announced, at: now)
            return
        }
        guard await reply.gate.pass() != .stopped else { return }
        let at = now
        let count = reply.frameSent(segment: segment, announced: announced, at: at)
        await output.write(.audio(turnID: reply.turnID, pcm: frame.audioData, sequence: count))
        // The echo canceller's reference (conversation mode): what the client will play.
        machine.withLock { $0.listener }?.replyAudioSent(frame.audioData)
        probe?.frameToClient()
        metrics.framesSent.increment()
        if count == 1 {
            metrics.firstAudio.record(at - startedAt)
            if let origin = reply.origin {
                // After the first frame is on its way: the figure covers it.
                let speechToSpeech = Int((at - origin.speechEndedAt).millisecondsDouble.rounded())
                let responderMs = reply.firstTextAt.map { Int(($0 - origin.responderStartedAt).millisecondsDouble.rounded()) } ?? 0
                metrics.speechToSpeech.recordMilliseconds(speechToSpeech)
                await output.write(.turnMetrics(
                    turnID: reply.turnID, speechToSpeechMs: speechToSpeech, asrMs: origin.asrMs, responderMs: responderMs,
                    endOfTurn: origin.endOfTurn))
            }
        }
    }

    /// The stall watchdog: once all text is sent, a worker that sends nothing for longer than
    /// the stall timeout (while the reply is not paused) is treated as gone, even if its
    /// connection still looks open.
    private func watch(_ worker: WorkerConnection, reply: Reply, activity: Locked<Activity>) async -> AttemptOutcome? {
        let limit = configuration.workerStallTimeout
        while !Task.isCancelled {
            let deadline = (activity.withLock { $0.last } ?? now) + limit
            do {
                try await clock.sleep(until: origin.advanced(by: deadline), tolerance: nil)
            } catch {
                return nil
            }
            let current = now
            let stalled = activity.withLock { a -> Bool in
                guard let last = a.last else { return false }
                if reply.gate.isPaused {
                    a.last = current
                    return false
                }
                return current - last >= limit
            }
            if stalled {
                return .failed(DuplexError(.workerUnavailable, "Worker \(worker.address) sent nothing for \(limit)."))
            }
        }
        return nil
    }
}

/// The control lane: sends the mailbox's commands to the workers, one at a time.
extension Session {
    func runControlLane() async {
        await probe.tracking {
            while let (target, command) = await mailbox.next() {
                var request = Duplex_Tts_V1_ControlRequest()
                request.sessionID = target.sessionID
                request.synthesisID = target.synthesisID
                request.command =
                    switch command {
                    case .pause: .pause
                    case .resume: .resume
                    case .stop: .stop
                    }
                probe?.controlSent()
                do {
                    _ = try await target.worker.call { [request] client, options in try await client.control(request, options: options) }
                } catch {
                    logger.warning("worker control failed", metadata: ["error.message": "\(error)", "control.command": "\(command.rawValue)"])
                }
            }
        }
    }
}
