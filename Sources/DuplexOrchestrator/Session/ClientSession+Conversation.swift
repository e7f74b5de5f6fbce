import DuplexCore
import DuplexConfig
import DuplexProto
import DuplexSherpa
import Logging
import Foundation
import Metrics

/// Conversation mode: microphone audio → VAD → Whisper → responder → reply, with barge-in.
///
/// Two detectors hear the microphone (``SpeechInput``): the turn VAD (`vad:` settings) ends
/// turns, and the barge-in detector (stricter threshold, short minimum speech, see
/// `conversation:`) pauses a playing reply the moment the user speaks over it. Speech that
/// goes on for `conversation.min_interruption_ms` stops the reply (`barge_in`); shorter
/// sounds let it resume where it paused.
extension ClientSession {
    /// Microphone audio from the client.
    func hearAudio(_ pcm: Data, replies: AsyncBoundedQueue<Reply>) async {
        guard let input = state.withLock({ $0.input }) else { return }
        let received = ContinuousClock.now
        let events: [SpeechInput.Event]
        let positionMs: Int
        do {
            events = try await input.accept(pcm)
            positionMs = await input.positionMs
        } catch {
            await send(.error(error))
            return
        }
        for event in events {
            switch event {
            case .bargeInEdge(_, let onsetMs):
                // Speech again: a speculative transcript of the pause is stale.
                state.withLock { $0.speculative = nil }
                await userMayBeInterrupting(onsetMs: onsetMs, detectedAt: received)
            case .speechPaused(let atMs, let audio):
                // Transcribe now, while the turn VAD still waits for the end-of-turn silence; if
                // the turn ends here, the transcript is ready (saves the Whisper time).
                let task = Task { try? await input.transcribe(audio) }
                state.withLock { $0.speculative = Speculative(atMs: atMs, task: task) }
            case .bargeInEdgeEnded(let atMs, _):
                await interruptionEnded(endMs: atMs)
            case .speechStarted(let atMs):
                await send(.vad(state: "speech_start", atMs: atMs))
            case .speechEnded(let atMs, let startMs, let audio):
                await send(.vad(state: "speech_end", atMs: atMs))
                if isEcho(startMs: startMs) {
                    logger.debug("speech during the reply without a barge-in edge: taken for the reply's echo")
                    continue
                }
                // The speech ended `positionMs - atMs` ago (the end-of-turn silence since).
                let endedAt = received - .milliseconds(max(0, positionMs - atMs))
                let speculative = state.withLock { s -> Speculative? in
                    defer { s.speculative = nil }
                    return s.speculative.flatMap { $0.atMs + 50 >= atMs ? $0 : nil }
                }
                Task { await self.answer(audio, speechEndedAt: endedAt, speculative: speculative, replies: replies) }
            }
        }
        await confirmInterruption(positionMs: positionMs)
    }

    /// Speech over a playing reply: pause it at once (the gate drops frames from now on,
    /// then the worker is told).
    private func userMayBeInterrupting(onsetMs: Int, detectedAt: ContinuousClock.Instant) async {
        let paused = state.withLock { s -> Reply? in
            s.edgeOnsetMs = onsetMs
            s.lastEdgeOnsetMs = onsetMs
            guard s.interruption == nil, let reply = s.currentReply, !reply.gate.isStopped, !reply.gate.isPaused else { return nil }
            reply.gate.pause()
            s.interruption = Interruption(reply: reply, onsetMs: onsetMs, detectedAt: detectedAt)
            return reply
        }
        if paused != nil { await workerControl(.pause) }
    }

    /// The speech has lasted long enough: it is an interruption. (Judged once the detector's
    /// short end-of-speech silence has passed too, so a short sound has ended by then; speech
    /// that could still be a backchannel waits for its transcript.)
    private func confirmInterruption(positionMs: Int) async {
        let settle = speech?.bargeInParameters.minSilenceMs ?? 0
        let threshold = max(conversation.minInterruptionMs, conversation.backchannelMaxMs) + settle
        let confirmed = state.withLock { s -> Interruption? in
            guard let pending = s.interruption, s.edgeOnsetMs != nil, positionMs - pending.onsetMs >= threshold else { return nil }
            s.interruption = nil
            return pending
        }
        if let confirmed { await bargeIn(confirmed.reply, edgeAt: confirmed.detectedAt) }
    }

    /// The barge-in detector's speech ended: a short sound (cough, click, noise burst) lets the
    /// reply resume where it paused; speech that may be a backchannel waits for its transcript;
    /// longer speech is an interruption.
    private func interruptionEnded(endMs: Int) async {
        enum Outcome { case nothing, resume(Interruption), stop(Interruption) }
        let outcome = state.withLock { s -> Outcome in
            s.edgeOnsetMs = nil
            guard var pending = s.interruption, !pending.awaitingTranscript else { return .nothing }
            let duration = endMs - pending.onsetMs
            if duration < conversation.minInterruptionMs {
                s.interruption = nil
                return .resume(pending)
            }
            if duration < conversation.backchannelMaxMs {
                pending.awaitingTranscript = true
                s.interruption = pending
                return .nothing
            }
            s.interruption = nil
            return .stop(pending)
        }
        switch outcome {
        case .nothing: break
        case .resume(let pending): await resume(pending)
        case .stop(let pending): await bargeIn(pending.reply, edgeAt: pending.detectedAt)
        }
    }

    /// Carries on with a reply that user sound paused.
    private func resume(_ pending: Interruption) async {
        metrics.falseInterruptions.increment()
        await workerControl(.resume)
        pending.reply.gate.resume()
        let pausedMs = Int(pending.detectedAt.duration(to: .now).millisecondsDouble)
        await send(.bargeInResumed(turnID: pending.reply.turnID, pausedMs: pausedMs))
    }

    /// The turn's transcript decides a pause that may be a backchannel: nothing speakable or
    /// a backchannel resumes the reply; anything else stops it.
    private func settleInterruption(byTranscript isAnswered: Bool) async {
        let pending = state.withLock { s -> Interruption? in
            guard let pending = s.interruption, pending.awaitingTranscript else { return nil }
            s.interruption = nil
            return pending
        }
        guard let pending else { return }
        if isAnswered { await bargeIn(pending.reply, edgeAt: pending.detectedAt) } else { await resume(pending) }
    }

    /// Speech heard by the turn VAD while a reply plays, with no barge-in edge near its start,
    /// is the reply leaking back into the microphone, not the user.
    private func isEcho(startMs: Int) -> Bool {
        state.withLock { s in
            guard let reply = s.currentReply, !reply.gate.isStopped else { return false }
            guard let edge = s.lastEdgeOnsetMs else { return true }
            return edge < startMs - 500
        }
    }

    /// Stops and discards a reply the user talked over; the history keeps what was heard.
    func bargeIn(_ reply: Reply, edgeAt: ContinuousClock.Instant?) async {
        reply.gate.stop()
        let heardText = reply.heardText
        var latencyMs = 0
        if let edgeAt, let last = reply.lastFrameAt.value {
            latencyMs = max(0, Int(edgeAt.duration(to: last).millisecondsDouble.rounded()))
        }
        // Tell the client to flush its playback buffer before anything else about this turn.
        await send(.bargeIn(turnID: reply.turnID, heardMs: reply.framesSent.value * OutputFormat.frameMilliseconds, latencyMs: latencyMs, heardText: heardText))
        if edgeAt != nil { metrics.bargeIn.recordMilliseconds(latencyMs) }
        reply.finishText()
        let task = state.withLock { s -> Task<Void, Never>? in
            if s.openReply === reply { s.openReply = nil }
            let key = ObjectIdentifier(reply)
            if s.generating[key] != nil {
                s.generating[key]?.interruptedHeard = heardText
            } else if reply.origin != nil {
                s.history.truncateLastReply(to: heardText)
            }
            return s.conversationReply === reply ? s.responderTask : nil
        }
        task?.cancel()
        await workerControl(.stop)
    }

    /// Transcribes an utterance and answers it with the responder.
    private func answer(
        _ audio: [Float], speechEndedAt: ContinuousClock.Instant, speculative: Speculative?, replies: AsyncBoundedQueue<Reply>
    ) async {
        guard let input = state.withLock({ $0.input }) else { return }
        let heard: (text: String, decodeMs: Int)?
        if let speculative, let early = await speculative.task.value {
            heard = early
            metrics.speculativeHits.increment()
        } else {
            do {
                heard = try await input.transcribe(audio)
            } catch {
                await settleInterruption(byTranscript: false)
                await send(.error(error))
                return
            }
        }
        guard let heard else {
            await settleInterruption(byTranscript: false)
            return
        }
        metrics.asr.recordMilliseconds(heard.decodeMs)
        let words = heard.text.lowercased().filter { $0.isLetter || $0 == " " }.split(separator: " ").joined(separator: " ")
        if backchannels.contains(words) {
            await settleInterruption(byTranscript: false)
            return
        }
        await settleInterruption(byTranscript: true)

        // A new user turn: nothing stale may play over it.
        let (stale, staleTask) = state.withLock { s in (s.conversationReply, s.responderTask) }
        staleTask?.cancel()
        if let current = state.withLock({ $0.currentReply }), !current.gate.isStopped {
            await bargeIn(current, edgeAt: nil)
        }
        if let stale, !stale.gate.isStopped {
            stale.gate.stop()
            stale.finishText()
        }

        let reply = state.withLock { s -> Reply in
            s.turnCounter += 1
            return Reply(
                turnID: "\(id)-t\(s.turnCounter)", maxCharacters: limits.maxReplyChars,
                origin: Reply.Origin(speechEndedAt: speechEndedAt, asrMs: heard.decodeMs, responderStartedAt: .now))
        }
        await send(.transcript(text: heard.text, turnID: reply.turnID, decodeMs: heard.decodeMs))
        let history = state.withLock { s -> [HistoryMessage] in
            s.history.append(HistoryMessage(role: .user, text: heard.text))
            s.generating[ObjectIdentifier(reply)] = Generating()
            return s.history.messages
        }
        let task = Task { await self.generate(reply, history: history, replies: replies) }
        state.withLock { s in
            s.conversationReply = reply
            s.responderTask = task
        }
    }

    /// Streams the responder's text into the reply (and to the client as `reply` pieces). The
    /// reply joins the playback queue with its first text, so a responder that fails before
    /// saying anything leaves no empty turn behind.
    private func generate(_ reply: Reply, history: [HistoryMessage], replies: AsyncBoundedQueue<Reply>) async {
        var full = ""
        var failure: DuplexError?
        do {
            for try await piece in responder.reply(to: history) {
                try Task.checkCancellation()
                guard !piece.isEmpty else { continue }
                if full.isEmpty {
                    guard replies.count < limits.maxQueuedReplies else {
                        throw DuplexError(.overloaded, "\(limits.maxQueuedReplies) replies are already queued; this turn is not answered.")
                    }
                    try await replies.send(reply)
                }
                full += piece
                try reply.append(piece, isFinal: false)
                await send(.reply(text: piece, isFinal: false, turnID: reply.turnID))
            }
            try Task.checkCancellation()
            try reply.append("", isFinal: true)
        } catch is CancellationError {
        } catch {
            failure = DuplexError.wrap(error, as: .responderFailed, "The reply could not be generated.")
        }
        reply.finishText()
        let record = state.withLock { s -> String? in
            let generating = s.generating.removeValue(forKey: ObjectIdentifier(reply))
            let text = generating?.interruptedHeard ?? full
            guard !text.isEmpty else { return nil }
            s.history.append(HistoryMessage(role: .assistant, text: text))
            return text
        }
        if let failure {
            await send(.error(failure))
        } else if !Task.isCancelled, record != nil {
            await send(.reply(text: full, isFinal: true, turnID: reply.turnID))
        }
    }

    /// Per-turn figures once a conversation reply's first frame has been sent.
    func reportTurnMetrics(_ reply: Reply) async {
        guard let origin = reply.origin else { return }
        let now = ContinuousClock.now
        let speechToSpeech = Int(origin.speechEndedAt.duration(to: now).millisecondsDouble.rounded())
        let responderMs = origin.firstTextAt.value.map { Int(origin.responderStartedAt.duration(to: $0).millisecondsDouble.rounded()) } ?? 0
        metrics.speechToSpeech.recordMilliseconds(speechToSpeech)
        await send(.turnMetrics(turnID: reply.turnID, speechToSpeechMs: speechToSpeech, asrMs: origin.asrMs, responderMs: responderMs))
    }
}

/// The conversation metrics (Prometheus through swift-metrics).
struct ConversationMetrics: Sendable {
    /// End of user speech → first reply frame sent (includes the end-of-turn silence).
    let speechToSpeech = Metrics.Timer(label: "duplex_conversation_speech_to_speech_seconds")
    /// Whisper decode time per utterance.
    let asr = Metrics.Timer(label: "duplex_asr_seconds")
    /// Barge-in edge → last reply frame sent.
    let bargeIn = Metrics.Timer(label: "duplex_barge_in_seconds")
    /// Replies paused by a sound that turned out not to be an interruption.
    let falseInterruptions = Counter(label: "duplex_false_interruptions_total")
    /// Turns answered with the transcript made during the end-of-turn silence.
    let speculativeHits = Counter(label: "duplex_asr_speculative_hits_total")

    static let shared = ConversationMetrics()
}

extension Metrics.Timer {
    func recordMilliseconds(_ milliseconds: Int) {
        recordNanoseconds(Int64(milliseconds) * 1_000_000)
    }
}
