import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Foundation
import GRPCCore
import Testing

/// Barge-in, backchannels and turns, with scripted VAD events and transcripts: the session
/// logic without Silero, Whisper or real time.
@Suite(.timeLimit(.minutes(1))) struct BargeInTests {
    /// Starts conversation mode; returns the session's listener.
    static func conversation(_ session: EngineHarness) async -> ScriptedListener {
        session.send(.start(SessionOptions(mode: .conversation)))
        let listener = await session.speech.waitForListener()
        await session.events.next("session_start")
        return listener
    }

    /// Starts conversation mode and a text reply that is playing (`frames` sent).
    static func playingReply(
        _ session: EngineHarness, frames: Int = 5, text: String = "This reply is long enough to be interrupted."
    ) async -> (ScriptedListener, ScriptedSynthesis) {
        let listener = await conversation(session)
        session.send(.text(text, isFinal: true))
        let synthesis = await session.workers[0].waitForSynthesis(1)
        synthesis.emit(segment: 0, frames: frames, tag: 1, announce: text, range: 0..<text.unicodeScalars.count)
        await session.events.next { $0.frameIdentity?.index == UInt32(frames - 1) }
        return (listener, synthesis)
    }

    @Test func speechOverTheReplyPausesItAtOnceAndStopsItOnceItLastsLongEnough() async throws {
        try await EngineHarness.run { session in
            let (listener, synthesis) = await Self.playingReply(session, frames: 60)
            let worker = session.workers[0]
            session.clock.advance(by: .milliseconds(500))
            session.send(.audio(listener.chunk(positionMs: 1000, [.bargeInEdge(atMs: 1000, onsetMs: 980)])))
            await worker.waitForControls(1)
            #expect(worker.state.value.controls[0].command == .pause)
            // Frames keep arriving from the worker but none reaches the client.
            synthesis.emit(segment: 0, frames: 2, tag: 1, first: 60)
            await waitUntil { session.probe.framesFromWorkers >= 61 }
            #expect(session.events.all("audio").count == 60)
            // Speech going on past max(300, 800) + 100 ms settle: an interruption (the exact
            // threshold is checked in SessionMachineTests).
            session.send(.audio(listener.chunk(positionMs: 1400, [])))
            session.send(.audio(listener.chunk(positionMs: 1900, [])))
            let bargeIn = await session.events.next("barge_in")
            guard case .bargeIn(let report) = bargeIn else { return }
            #expect(report.turnID == "s1-t1")
            #expect(report.heardMs == 1200)
            // 60 of the ~150 frames of the clause: its first words, cut.
            #expect(report.heardText == "This reply is…")
            // The edge came 500 ms (manual clock) after the last frame was sent… before it:
            // latency is measured from the edge to the last frame, so 0 here.
            #expect(report.latencyMs == 0)
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .stopped)
            await worker.waitForControls(2)
            #expect(worker.state.value.controls[1].command == .stop)
        }
    }

    @Test(arguments: [150, 299])
    func aShortSoundLetsTheReplyResumeWhereItPaused(soundMs: Int) async throws {
        try await EngineHarness.run { session in
            let (listener, synthesis) = await Self.playingReply(session)
            let worker = session.workers[0]
            session.send(.audio(listener.chunk(positionMs: 1000, [.bargeInEdge(atMs: 1000, onsetMs: 980)])))
            await worker.waitForControls(1)
            session.clock.advance(by: .milliseconds(250))
            session.send(.audio(listener.chunk(positionMs: 980 + soundMs + 100, [.bargeInEdgeEnded(atMs: 980 + soundMs, onsetMs: 980)])))
            let resumed = await session.events.next("barge_in_resumed")
            guard case .bargeInResumed(let turn, let pausedMs) = resumed else { return }
            #expect(turn == "s1-t1")
            #expect(pausedMs == 250)
            await worker.waitForControls(2)
            #expect(worker.state.value.controls[1].command == .resume)
            synthesis.emit(segment: 0, frames: 3, tag: 1, first: 5)
            synthesis.end()
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            #expect(session.events.all("audio").compactMap(\.frameIdentity?.index) == Array(0..<8))
            #expect(session.events.all("barge_in").isEmpty)
        }
    }

    @Test(arguments: [("okay", true), ("Mm hmm.", true), ("", true), ("wait, stop that", false)])
    func speechOfBackchannelLengthWaitsForItsTranscript(said: String, resumes: Bool) async throws {
        try await EngineHarness.run { session in
            let (listener, synthesis) = await Self.playingReply(session)
            session.speech.state.update { $0.results[5] = said.isEmpty ? .nothing : .text(said) }
            session.send(.audio(listener.chunk(positionMs: 1000, [.bargeInEdge(atMs: 1000, onsetMs: 980), .speechStarted(atMs: 980)])))
            await session.events.next("vad")
            // 500 ms: longer than a cough, shorter than backchannel_max_ms (800).
            session.send(.audio(listener.chunk(positionMs: 1600, [.bargeInEdgeEnded(atMs: 1480, onsetMs: 980)])))
            // The reply stays held until the turn VAD ends the utterance and Whisper decides.
            session.send(.audio(listener.chunk(positionMs: 2000, [
                .speechEnded(atMs: 1480, startMs: 980, audio: ScriptedSpeech.audio(tag: 5)),
            ])))
            if resumes {
                await session.events.next("barge_in_resumed")
                synthesis.end()
                let end = await session.events.next("tts_end")
                #expect(end.endReason == .completed)
                #expect(session.events.all("transcript").isEmpty)
                #expect(session.events.all("barge_in").isEmpty)
            } else {
                // `barge_in` first: before the reply's `tts_end` and before the transcript of the
                // turn that stopped it (the client flushes its playback on it).
                let bargeIn = await session.events.next("barge_in")
                guard case .bargeIn(let report) = bargeIn else { return }
                #expect(report.turnID == "s1-t1")
                let end = await session.events.first("tts_end")
                #expect(end.endReason == .stopped)
                let transcript = await session.events.next("transcript")
                guard case .transcript(let text, let turn, _) = transcript else { return }
                #expect(text == said)
                #expect(turn == "s1-t2")
                // The new turn is answered.
                let request = await session.responder.waitForRequest(1)
                #expect(request.history.last == HistoryMessage(role: .user, text: said))
            }
        }
    }

    @Test func aNewTranscriptCancelsTheStaleReplyAndItsGenerationAndTheHistoryKeepsWhatWasHeard() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session)
            session.speech.state.update { s in
                s.results[1] = .text("Tell me a story.")
                s.results[2] = .text("Actually, a poem.")
            }
            session.send(.audio(listener.chunk(positionMs: 2000, [
                .speechStarted(atMs: 500), .speechEnded(atMs: 1500, startMs: 500, audio: ScriptedSpeech.audio(tag: 1)),
            ])))
            let first = await session.responder.waitForRequest(1)
            #expect(first.history == [HistoryMessage(role: .user, text: "Tell me a story.")])
            first.send("Hi. Once upon a time there was a fox. ")
            let synthesis = await session.workers[0].waitForSynthesis(1)
            await synthesis.waitForText { $0.text.contains("fox.") }
            synthesis.emit(segment: 0, frames: 12, tag: 1, announce: "Hi.", range: 0..<3)
            synthesis.emit(segment: 1, frames: 2, tag: 2, announce: "Once upon a time there was a fox.", range: 4..<37)
            await session.events.next { $0.frameIdentity?.tag == 2 && $0.frameIdentity?.index == 1 }
            first.send("It lived in the woods. ")
            // The user speaks again (with a barge-in edge) and says something new.
            session.send(.audio(listener.chunk(positionMs: 3000, [
                .bargeInEdge(atMs: 2600, onsetMs: 2500), .speechStarted(atMs: 2500),
                .speechEnded(atMs: 2900, startMs: 2500, audio: ScriptedSpeech.audio(tag: 2)),
            ])))
            let bargeIn = await session.events.next("barge_in")
            guard case .bargeIn(let report) = bargeIn else { return }
            #expect(report.turnID == "s1-t1")
            await first.waitUntilClosed()
            let second = await session.responder.waitForRequest(2)
            #expect(second.history.count == 3)
            #expect(second.history[0] == HistoryMessage(role: .user, text: "Tell me a story."))
            #expect(second.history[1].role == .assistant)
            #expect(second.history[1].text == report.heardText)
            #expect(report.heardText.hasPrefix("Hi."))
            #expect(!report.heardText.contains("woods"))
            #expect(second.history[2] == HistoryMessage(role: .user, text: "Actually, a poem."))
            second.send("Roses are red.")
            second.finish()
            let next = await session.workers[0].waitForSynthesis(2)
            await next.waitForText { $0.finalReceived }
            #expect(next.progress.value.text == "Roses are red.")
            next.emit(segment: 0, frames: 2, tag: 2)
            next.end()
            await session.events.next { if case .replyEnded(let turn, _, _, _) = $0 { turn == "s1-t2" } else { false } }
        }
    }

    @Test func aSpeculativeTranscriptOfThePauseAnswersTheTurnWhenTheTurnEndsThere() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session)
            session.speech.state.update { s in
                s.results[3] = .text("What time is it?")
                s.results[4] = .text("never used")
            }
            session.send(.audio(listener.chunk(positionMs: 1600, [.speechStarted(atMs: 200), .speechPaused(atMs: 1500, audio: ScriptedSpeech.audio(tag: 3))])))
            await session.speech.state.wait { $0.started == [3] }
            session.send(.audio(listener.chunk(positionMs: 2000, [.speechEnded(atMs: 1500, startMs: 200, audio: ScriptedSpeech.audio(tag: 4))])))
            let transcript = await session.events.next("transcript")
            guard case .transcript(let text, _, _) = transcript else { return }
            #expect(text == "What time is it?")
            #expect(session.speech.state.value.started == [3])
        }
    }

    @Test func speechAfterThePauseMakesTheSpeculativeTranscriptStale() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session)
            session.speech.state.update { s in
                s.results[3] = .text("I'd like to book a table for")
                s.results[4] = .text("I'd like to book a table for four people.")
                s.held = [3]
            }
            session.send(.audio(listener.chunk(positionMs: 1600, [.speechStarted(atMs: 200), .speechPaused(atMs: 1500, audio: ScriptedSpeech.audio(tag: 3))])))
            await session.speech.state.wait { $0.started == [3] }
            // The user goes on talking, then the turn ends later.
            session.send(.audio(listener.chunk(positionMs: 2300, [.bargeInEdge(atMs: 2300, onsetMs: 2200)])))
            session.send(.audio(listener.chunk(positionMs: 3500, [.speechEnded(atMs: 3000, startMs: 200, audio: ScriptedSpeech.audio(tag: 4))])))
            session.speech.state.update { $0.held = [] }
            let transcript = await session.events.next("transcript")
            guard case .transcript(let text, _, _) = transcript else { return }
            #expect(text == "I'd like to book a table for four people.")
            #expect(session.speech.state.value.started == [3, 4])
        }
    }

    @Test func theReplysOwnEchoIsNotATurn() async throws {
        try await EngineHarness.run { session in
            let (listener, synthesis) = await Self.playingReply(session)
            session.speech.state.update { $0.results[6] = .text("interrupted") }
            // The turn VAD hears speech with no barge-in edge near its start: the reply's echo.
            session.send(.audio(listener.chunk(positionMs: 2000, [
                .speechStarted(atMs: 1000), .speechEnded(atMs: 1800, startMs: 1000, audio: ScriptedSpeech.audio(tag: 6)),
            ])))
            await session.events.next { if case .voiceActivity(.speechEnd, _, _) = $0 { true } else { false } }
            synthesis.end()
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            #expect(session.speech.state.value.started.isEmpty)
            #expect(session.events.all("transcript").isEmpty)
        }
    }
}
