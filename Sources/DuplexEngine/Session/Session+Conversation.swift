import DuplexConfig
import DuplexCore
import Foundation
import Logging
import Metrics
import Synchronization

/// Conversation mode: microphone audio → VAD (receive path) → Whisper → responder (turn
/// lane) → reply, with barge-in.
///
/// Two detectors hear the microphone: the turn VAD ends turns, and the barge-in detector
/// (stricter threshold, short minimum speech, see `conversation:`) pauses a playing reply the
/// moment the user speaks over it. Speech that goes on for `conversation.min_interruption_ms`
/// stops the reply (`barge_in`); shorter sounds let it resume where it paused; speech short
/// enough to be a backchannel waits for its transcript.
extension Session {
    /// Feeds a microphone chunk to the session's listener and turns what it hears into
    /// transitions (on the receive path: chunks are heard in order, and a barge-in edge closes
    /// the reply's gate at once).
    func hear(_ pcm: Data, on listener: any SpeechListener, receivedAt: Duration) async {
        let events: [SpeechEvent]
        let position: Int
        do throws(DuplexError) {
            events = try await listener.accept(pcm)
            position = await listener.positionMs
        } catch {
            await output.write(.error(error))
            return
        }
        for event in events {
            if case .endOfTurn(let decision) = event { metrics.record(decision) }
            await perform(machine.withLock { $0.heard(event, positionMs: position, receivedAt: receivedAt, listener: listener) })
        }
        await perform(machine.withLock { $0.confirmInterruption(positionMs: position) })
    }

    /// Transcribes utterances in order (Whisper runs one decode at a time anyway) and answers
    /// them; each answer's generation runs as a child of this lane, after the previous one
    /// recorded its history, and is cut short by the next turn.
    func runTurnLane() async {
        await probe.tracking {
            await withDiscardingTaskGroup { group in
                var previous: AsyncSignal?
                while let job = try? await transcriptions.next() {
                    switch job {
                    case .speculative(let pending, let audio, let listener):
                        let wanted = pending.isClaimed || machine.withLock { $0.speculative === pending }
                        guard wanted else {
                            pending.outcome.fulfill(.unavailable)
                            continue
                        }
                        do throws(DuplexError) {
                            pending.outcome.fulfill(.heard(try await listener.transcribe(audio)))
                        } catch {
                            pending.outcome.fulfill(.unavailable)
                        }
                    case .utterance(let utterance):
                        guard let request = await answer(utterance) else { continue }
                        let after = previous
                        previous = request.done
                        group.addTask { await self.generate(request, after: after) }
                    case .respond(let userText):
                        let at = now
                        guard let request = await perform(machine.withLock({ $0.clientRespond(userText: userText, at: at) })) else { continue }
                        let after = previous
                        previous = request.done
                        group.addTask { await self.generate(request, after: after) }
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// Transcribes an utterance and decides what it is: nothing, a backchannel (a reply held
    /// for it resumes) or a new turn (returned, to generate).
    private func answer(_ utterance: Utterance) async -> GenerationRequest? {
        var heard: Transcript?
        if let pending = utterance.speculative, case .heard(let early)? = await pending.outcome.value(), let early {
            heard = early
            metrics.speculativeHits.increment()
        } else {
            do throws(DuplexError) {
                heard = try await utterance.listener.transcribe(utterance.audio)
            } catch {
                let at = now
                await perform(machine.withLock { $0.transcriptIgnored(at: at) })
                if error.code != .cancelled { await output.write(.error(error)) }
                return nil
            }
        }
        let at = now
        guard let heard else {
            await perform(machine.withLock { $0.transcriptIgnored(at: at) })
            return nil
        }
        metrics.asr.recordMilliseconds(heard.decodeMs)
        if machine.withLock({ $0.isBackchannel(heard.text) }) {
            await perform(machine.withLock { $0.transcriptIgnored(at: at) })
            return nil
        }
        return await perform(machine.withLock { $0.transcriptAccepted(heard, speechEndedAt: utterance.speechEndedAt, endOfTurn: utterance.endOfTurn, at: at) })
    }

    /// Streams the responder's text into the reply (and to the client as `reply` pieces). The
    /// reply joins the playback queue with its first text, so a responder that fails before
    /// saying anything leaves no empty turn behind.
    private func generate(_ request: GenerationRequest, after previous: AsyncSignal?) async {
        await probe.tracking {
            defer { request.done.fire() }
            // The previous turn's reply is recorded first, so the history stays in order.
            await previous?.wait()
            let reply = request.reply
            let (history, instructions) = machine.withLock { ($0.generationStarting(userText: request.userText), $0.instructions) }
            let text = Locked("")
            let failure = Locked<DuplexError?>(nil)
            let limit = configuration.limits.maxQueuedReplies
            let metered = responder.spendsTokens ? quota : nil
            if let refusal = metered?.admitLLM() {
                failure.withLock { $0 = refusal }
            } else if !request.cancel.isFired, !Task.isCancelled {
                _ = await withCancellation(on: request.cancel) {
                    do {
                        let pieces = if let instructions { self.responder.reply(to: history, instructions: instructions) } else { self.responder.reply(to: history) }
                        for try await piece in pieces {
                            try Task.checkCancellation()
                            guard !piece.isEmpty else { continue }
                            if text.value.isEmpty, !self.replies.trySend(reply) {
                                throw DuplexError(.overloaded, "\(limit) replies are already queued; this turn is not answered.")
                            }
                            text.withLock { $0 += piece }
                            try reply.append(piece, isFinal: false, at: self.now)
                            await self.output.write(.replyText(text: piece, isFinal: false, turnID: reply.turnID))
                        }
                        try Task.checkCancellation()
                        try reply.append("", isFinal: true, at: self.now)
                    } catch is CancellationError {
                    } catch {
                        if !Task.isCancelled { failure.withLock { $0 = DuplexError.wrap(error, as: .responderFailed, "The reply could not be generated.") } }
                    }
                }
            }
            reply.finishText()
            let full = text.value
            if let metered, failure.value?.code != .rateLimited {
                let prompt = history.reduce(instructions?.count ?? 0) { $0 + $1.text.count }
                metered.chargeLLM(tokens: KeyQuota.estimatedTokens(characters: prompt + full.count))
            }
            let cancelled = request.cancel.isFired || Task.isCancelled
            let recorded = machine.withLock { $0.generationEnded(reply, fullText: full) }
            if let error = failure.value {
                await output.write(.error(error))
            } else if !cancelled, recorded != nil || request.requested {
                await output.write(.replyText(text: full, isFinal: true, turnID: reply.turnID))
            }
        }
    }
}
