import DuplexConfig
import DuplexCore
import Synchronization

/// Something the session must do after a transition (outside the lock): everything that
/// can suspend.
enum SessionAction: Sendable {
    /// Tell the client.
    case send(SessionEvent)
    /// Tell the worker running the reply's synthesis (through the control mailbox).
    case control(Reply, PlaybackCommand)
    /// Queue a transcription for the turn lane.
    case transcribe(TranscriptionJob)
    /// Start generating a reply (turn lane).
    case generate(GenerationRequest)
    /// Count a pause that turned out not to be an interruption.
    case falseInterruption
    /// Tell the client the reply was talked over (`barge_in`, before its `tts_end` and before
    /// the transcript of the turn that stopped it).
    case bargeIn(Reply, BargeInReport)
}

/// The session's state and its transitions.
///
/// One value, guarded by the session's lock, holding the states that must change together:
/// the worker binding, playback of the current reply, the barge-in detector, the user's
/// turn and the conversation history. Every transition is a `mutating` function that returns
/// the ``SessionAction``s to perform; the only effects inside a transition are on the reply's
/// ``PlaybackGate`` (pause, resume, stop), which must change atomically with the state so
/// that no frame slips through between the decision and the gate.
struct SessionMachine: Sendable {
    let sessionID: String
    let limits: LimitsSection
    let conversation: ConversationSection
    let backchannels: Set<String>
    /// The barge-in detector's settle time (ms of silence after speech).
    let bargeInSettleMs: Int

    var lifecycle = Lifecycle.open
    var input = InputMode.text
    /// The model the client asked for ("" for the worker's default).
    var requestedModel = ""
    var voiceOptions: [String: String] = [:]
    var binding = BindingState.unbound
    /// The model of the latest worker session (reported in `session_start`).
    var lastModelID = ""
    var playback = PlaybackState.idle
    var edge = EdgeState.quiet
    /// The latest barge-in edge's onset, for telling the user from the reply's echo.
    var lastEdgeOnsetMs: Int?
    var turn = TurnState.listening
    /// TTS mode: the reply receiving the client's text pieces until `is_final`.
    var composing: Reply?
    /// Conversation mode: the latest generation.
    var generation: Generation?
    /// Replies whose generation has not ended yet (their history is recorded when it does).
    var generating: Set<ObjectIdentifier> = []
    var speculative: SpeculativeTranscript?
    /// Why the current turn is ending: the listener reports it just before the turn's
    /// `speechEnded` (same chunk), which takes it along to the transcript and `turn_metrics`.
    var endOfTurn: EndOfTurnDecision?
    var history: ConversationHistory
    var turnCounter = 0
    /// Who ends the user's turns.
    var turnTaking = TurnTaking.standard
    /// The client's instructions for the responder (nil: the configured ones).
    var instructions: String?

    /// Where microphone audio goes.
    enum InputMode: Sendable {
        /// Text only.
        case text
        /// Conversation mode: the session's listener.
        case microphone(any SpeechListener)
    }

    /// The session's listener in conversation mode.
    var listener: (any SpeechListener)? {
        if case .microphone(let listener) = input { return listener }
        return nil
    }

    init(sessionID: String, limits: LimitsSection, conversation: ConversationSection, bargeInSettleMs: Int) {
        self.sessionID = sessionID
        self.limits = limits
        self.conversation = conversation
        self.backchannels = Set(conversation.backchannels)
        self.bargeInSettleMs = bargeInSettleMs
        self.history = ConversationHistory(limit: conversation.maxHistoryMessages)
    }

    var mode: SessionMode {
        if case .microphone = input { return .conversation }
        return .tts
    }

    private mutating func nextTurnID() -> String {
        turnCounter += 1
        return "\(sessionID)-t\(turnCounter)"
    }

    // MARK: Client text and control

    /// A `text` piece: it joins the reply being composed, or starts one (queued behind the
    /// playing one). `enqueue` puts a new reply in the playback queue, false when it is full.
    mutating func clientText(_ text: String, isFinal: Bool, at now: Duration, enqueue: (Reply) -> Bool) -> [SessionAction] {
        guard lifecycle == .open else { return [] }
        let reply: Reply
        if let composing {
            reply = composing
        } else {
            let new = Reply(turnID: nextTurnID(), maxCharacters: limits.maxReplyChars)
            guard enqueue(new) else {
                return [.send(.error(DuplexError(
                    .overloaded, "\(limits.maxQueuedReplies) replies are already queued (limits.max_queued_replies); wait for tts_end or STOP.")))]
            }
            reply = new
            composing = new
        }
        var actions: [SessionAction] = []
        do {
            try reply.append(text, isFinal: isFinal, at: now)
        } catch {
            actions.append(.send(.error(error)))
            // The final piece was refused: the reply still ends (with the text it has).
            if isFinal { reply.finishText() }
        }
        if isFinal, composing === reply { composing = nil }
        return actions
    }

    /// PAUSE / RESUME / STOP from the client, acting on the current reply: the gate changes
    /// at once, the worker is told off the receive path.
    mutating func clientControl(_ command: PlaybackCommand) -> [SessionAction] {
        switch (command, playback) {
        case (.pause, .playing(let reply)):
            reply.gate.pause()
            playback = .paused(reply, by: .client)
            return [.control(reply, .pause)]
        case (.pause, .paused(let reply, by: .userSpeech)), (.pause, .awaitingTranscript(let reply, _)):
            // Already paused on both sides; from now on only the client resumes it.
            playback = .paused(reply, by: .client)
            return []
        case (.resume, .paused(let reply, _)), (.resume, .awaitingTranscript(let reply, _)):
            playback = .playing(reply)
            reply.gate.resume()
            return [.control(reply, .resume)]
        case (.stop, _):
            guard let reply = playback.reply else { return [] }
            return stopCurrent(reply, .client)
        default:
            return []
        }
    }

    /// Stops the current reply (STOP, or a barge-in), cancels its generation and keeps in the
    /// history only what was heard.
    private mutating func stopCurrent(_ reply: Reply, _ reason: Reply.StopReason) -> [SessionAction] {
        if playback.reply === reply { playback = .idle }
        reply.stop(reason)
        if composing === reply { composing = nil }
        recordHeard(reply, heard: { if case .bargeIn(let report) = reason { report.heardText } else { reply.heardText } }())
        return [.control(reply, .stop)]
    }

    private mutating func recordHeard(_ reply: Reply, heard: String) {
        if generating.contains(ObjectIdentifier(reply)) {
            reply.markHeardWhenInterrupted(heard)
            if generation?.reply === reply { generation?.cancel.fire() }
        } else if reply.origin != nil {
            history.truncateLastReply(to: heard)
        }
    }

    // MARK: Playback lane

    /// The player takes `reply` from the queue. False if it was stopped while waiting
    /// (it is then reported as stopped without playing).
    mutating func replyWillPlay(_ reply: Reply) -> Bool {
        guard lifecycle == .open, reply.stopReason == nil else { return false }
        playback = .playing(reply)
        // A client that paused before the reply began: nothing to hold (the pause applied
        // to the previous reply).
        return true
    }

    /// The player is done with `reply`.
    mutating func replyDidEnd(_ reply: Reply) {
        if playback.reply === reply { playback = .idle }
        if case .responding(let turnID) = turn, turnID == reply.turnID, !generating.contains(ObjectIdentifier(reply)) {
            turn = .listening
        }
    }

    // MARK: Microphone (receive path)

    /// One event of the session's listener; `receivedAt` is when its audio arrived and
    /// `positionMs` the input time after the chunk.
    mutating func heard(_ event: SpeechEvent, positionMs: Int, receivedAt: Duration, listener: any SpeechListener) -> [SessionAction] {
        // Manual turns: the client decides; the VAD only listens.
        guard lifecycle == .open, turnTaking != .manual else { return [] }
        switch event {
        case .bargeInEdge(_, let onsetMs):
            edge = .speaking(onsetMs: onsetMs)
            lastEdgeOnsetMs = onsetMs
            // Speech again: a transcript of the pause is stale.
            speculative = nil
            guard case .playing(let reply) = playback, turnTaking.interrupts else { return [] }
            // Speech over the reply: hold it at once; the speech's length decides.
            reply.gate.pause()
            playback = .paused(reply, by: .userSpeech(Interruption(onsetMs: onsetMs, detectedAt: receivedAt)))
            return [.control(reply, .pause)]

        case .speechPaused(let atMs, let audio):
            // Transcribe now, while the turn VAD still waits for the end-of-turn silence.
            let pending = SpeculativeTranscript(atMs: atMs)
            speculative = pending
            return [.transcribe(.speculative(pending, audio: audio, listener: listener))]

        case .bargeInEdgeEnded(let endMs, _):
            edge = .quiet
            guard case .paused(let reply, by: .userSpeech(let interruption)) = playback else { return [] }
            let duration = endMs - interruption.onsetMs
            if duration < conversation.minInterruptionMs {
                // A cough, a click: carry on where it paused.
                return resume(reply, interruption, at: receivedAt)
            }
            if duration < conversation.backchannelMaxMs {
                // Maybe "okay": the transcript decides.
                playback = .awaitingTranscript(reply, interruption)
                return []
            }
            return bargeIn(reply, interruption)

        case .speechStarted(let atMs):
            turn = .userSpeaking(sinceMs: atMs, over: turn.answering)
            endOfTurn = nil
            return [.send(.voiceActivity(.speechStart, atMs: atMs, endOfTurn: nil))]

        case .turnProbed(let probe):
            return [.send(.turnProbe(probe))]

        case .endOfTurn(let decision):
            // Travels with the utterance that follows.
            endOfTurn = decision
            return []

        case .partialTranscript(let text, _):
            guard case .userSpeaking = turn else { return [] }
            return [.send(.partialTranscript(text: text))]

        case .speechEnded(let atMs, let startMs, let audio):
            let decision = endOfTurn
            endOfTurn = nil
            var actions: [SessionAction] = [.send(.voiceActivity(.speechEnd, atMs: atMs, endOfTurn: decision))]
            let over = turn.answering
            if isEcho(startMs: startMs) {
                // Speech heard by the turn VAD while a reply plays, with no barge-in edge near
                // its start, is the reply leaking back into the microphone, not the user.
                turn = over.map { .responding(turnID: $0) } ?? .listening
                return actions
            }
            // The speech ended `positionMs - atMs` ago (the end-of-turn silence since).
            let endedAt = receivedAt - .milliseconds(max(0, positionMs - atMs))
            var early: SpeculativeTranscript?
            if let pending = speculative, pending.atMs + 50 >= atMs {
                pending.claim()
                early = pending
            }
            speculative = nil
            turn = .transcribing(endMs: atMs, over: over)
            actions.append(.transcribe(.utterance(Utterance(audio: audio, speechEndedAt: endedAt, speculative: early, endOfTurn: decision, listener: listener))))
            return actions
        }
    }

    /// After a chunk's events: speech over the reply that has lasted long enough is an
    /// interruption. (Judged once the detector's short end-of-speech silence has passed too,
    /// so a short sound has ended by then; speech that may be a backchannel waits for its
    /// transcript.)
    mutating func confirmInterruption(positionMs: Int) -> [SessionAction] {
        let threshold = max(conversation.minInterruptionMs, conversation.backchannelMaxMs) + bargeInSettleMs
        guard case .paused(let reply, by: .userSpeech(let interruption)) = playback, case .speaking = edge,
            positionMs - interruption.onsetMs >= threshold
        else { return [] }
        return bargeIn(reply, interruption)
    }

    private func isEcho(startMs: Int) -> Bool {
        guard playback.reply != nil else { return false }
        guard let edge = lastEdgeOnsetMs else { return true }
        return edge < startMs - 500
    }

    private mutating func resume(_ reply: Reply, _ interruption: Interruption, at now: Duration) -> [SessionAction] {
        playback = .playing(reply)
        reply.gate.resume()
        let pausedMs = Int((now - interruption.detectedAt).millisecondsDouble.rounded())
        return [.falseInterruption, .control(reply, .resume), .send(.bargeInResumed(turnID: reply.turnID, pausedMs: max(0, pausedMs)))]
    }

    /// Stops a reply the user talked over (or that a new turn replaces): `barge_in` goes out
    /// first, and the player waits for it before `tts_end`.
    private mutating func bargeIn(_ reply: Reply, _ interruption: Interruption?) -> [SessionAction] {
        let report = reply.bargeInReport(edgeAt: interruption?.detectedAt)
        return stopCurrent(reply, .bargeIn(report)) + [.bargeIn(reply, report)]
    }

    // MARK: Transcripts (turn lane)

    /// The utterance had nothing speakable, or only a backchannel: a reply held for the
    /// transcript resumes.
    mutating func transcriptIgnored(at now: Duration) -> [SessionAction] {
        if case .transcribing(_, let over) = turn { turn = over.map { .responding(turnID: $0) } ?? .listening }
        // A committed manual turn always gets its transcript, empty when nothing was said.
        if turnTaking == .manual { return [.send(.transcript(text: "", turnID: nextTurnID(), asrMs: 0))] }
        guard case .awaitingTranscript(let reply, let interruption) = playback else { return [] }
        return resume(reply, interruption, at: now)
    }

    /// The user said something: a new turn. Whatever plays or generates is stopped, and the
    /// new reply is generated (unless replies wait for the client's request: then the words
    /// join the history and the transcript is reported).
    mutating func transcriptAccepted(
        _ transcript: Transcript, speechEndedAt: Duration, endOfTurn: EndOfTurnDecision? = nil, at now: Duration
    ) -> [SessionAction] {
        guard lifecycle == .open else { return [] }
        guard turnTaking.respondsToTurns else {
            // Speech interrupts (when it may) but asks for nothing.
            var actions = turnTaking.interrupts ? stopStale() : []
            history.append(HistoryMessage(role: .user, text: transcript.text))
            if case .transcribing(_, let over) = turn { turn = over.map { .responding(turnID: $0) } ?? .listening }
            actions.append(.send(.transcript(text: transcript.text, turnID: nextTurnID(), asrMs: transcript.decodeMs)))
            return actions
        }
        var actions = stopStale()
        let reply = Reply(
            turnID: nextTurnID(), maxCharacters: limits.maxReplyChars,
            origin: Reply.Origin(speechEndedAt: speechEndedAt, asrMs: transcript.decodeMs, responderStartedAt: now, endOfTurn: endOfTurn))
        actions.append(.send(.transcript(text: transcript.text, turnID: reply.turnID, asrMs: transcript.decodeMs)))
        actions.append(.generate(startGeneration(reply, userText: transcript.text, requested: false)))
        return actions
    }

    /// The client asked for a reply (to `userText`, or to the history as it is): like a new
    /// turn, it replaces whatever plays or generates.
    mutating func clientRespond(userText: String?, at now: Duration) -> [SessionAction] {
        guard lifecycle == .open else { return [] }
        var actions = stopStale()
        let reply = Reply(
            turnID: nextTurnID(), maxCharacters: limits.maxReplyChars,
            origin: Reply.Origin(speechEndedAt: now, asrMs: 0, responderStartedAt: now, endOfTurn: nil))
        actions.append(.generate(startGeneration(reply, userText: userText, requested: true)))
        return actions
    }

    /// Manual turns: the client ended the user's turn; its audio goes to the turn lane.
    mutating func clientCommitted(_ audio: [Float], positionMs: Int, at now: Duration, listener: any SpeechListener) -> [SessionAction] {
        guard lifecycle == .open else { return [] }
        turn = .transcribing(endMs: positionMs, over: turn.answering)
        return [.transcribe(.utterance(Utterance(audio: audio, speechEndedAt: now, speculative: nil, endOfTurn: nil, listener: listener)))]
    }

    /// Nothing stale may play over a new turn: the playing reply is stopped (as a barge-in)
    /// and a generation still running is cut short.
    private mutating func stopStale() -> [SessionAction] {
        var actions: [SessionAction] = []
        if let current = playback.reply {
            let interruption: Interruption? = if case .awaitingTranscript(_, let held) = playback { held } else { nil }
            actions += bargeIn(current, interruption)
        }
        if let stale = generation {
            stale.cancel.fire()
            // Not heard at all unless it was playing (then the barge-in above recorded it).
            stale.reply.markHeardWhenInterrupted(stale.reply.heardText)
            stale.reply.stop(.superseded)
        }
        return actions
    }

    private mutating func startGeneration(_ reply: Reply, userText: String?, requested: Bool) -> GenerationRequest {
        let request = GenerationRequest(reply: reply, userText: userText, requested: requested, cancel: AsyncSignal())
        generation = Generation(reply: reply, cancel: request.cancel)
        generating.insert(ObjectIdentifier(reply))
        turn = .responding(turnID: reply.turnID)
        return request
    }

    /// Whether a transcript is only a backchannel ("okay", "mhm").
    func isBackchannel(_ text: String) -> Bool {
        let words = text.lowercased().filter { $0.isLetter || $0 == " " }.split(separator: " ").joined(separator: " ")
        return backchannels.contains(words)
    }

    // MARK: Generation

    /// A generation begins (after the previous one recorded its history): the user's words
    /// join the history, which is returned for the responder.
    mutating func generationStarting(userText: String?) -> [HistoryMessage] {
        if let userText { history.append(HistoryMessage(role: .user, text: userText)) }
        return history.messages
    }

    /// A generation ended: the history records what the user heard of the reply (all of it
    /// unless it was interrupted meanwhile). Returns the recorded text, nil if nothing.
    mutating func generationEnded(_ reply: Reply, fullText: String) -> String? {
        generating.remove(ObjectIdentifier(reply))
        if generation?.reply === reply { generation = nil }
        if case .responding(let turnID) = turn, turnID == reply.turnID, playback.reply !== reply, fullText.isEmpty {
            turn = .listening
        }
        let text = reply.heardWhenInterrupted ?? fullText
        guard !text.isEmpty else { return nil }
        history.append(HistoryMessage(role: .assistant, text: text))
        return text
    }
}
