import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexTesting
import Foundation
import Testing

/// Turn taking chosen by the client (what the OpenAI Realtime API's `turn_detection: null`
/// and `create_response: false` need): commits, requested replies, history items and
/// instructions, with scripted VAD events, transcripts and replies.
@Suite(.timeLimit(.minutes(1))) struct ManualTurnTests {
    static func conversation(_ session: EngineHarness, _ turnTaking: TurnTaking) async -> ScriptedListener {
        session.send(.start(SessionOptions(mode: .conversation, turnTaking: turnTaking)))
        let listener = await session.speech.waitForListener()
        await session.events.next("session_start")
        return listener
    }

    @Test func aCommittedTurnIsTranscribedAndAnsweredOnlyWhenAsked() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session, .manual)
            session.speech.state.update { $0.results[7] = .text("What time is it?") }
            // The VAD's events are neither reported nor acted on.
            session.send(.audio(listener.chunk(positionMs: 900, [
                .speechStarted(atMs: 100), .endOfTurn(EndOfTurnDecision(reason: .fixedSilence, probability: nil, silenceMs: 500)),
                .speechEnded(atMs: 800, startMs: 100, audio: ScriptedSpeech.audio(tag: 8)),
            ])))
            await listener.accepted.wait { $0 >= 1 }
            listener.pending(tag: 7)
            session.send(.commitTurn)
            let transcript = await session.events.next("transcript")
            guard case .transcript(let text, _, _) = transcript else { return }
            #expect(text == "What time is it?")
            #expect(session.events.all("vad").isEmpty)
            #expect(session.speech.state.value.started == [7])
            #expect(session.responder.requests.value.isEmpty)

            session.send(.respond(userText: nil))
            let request = await session.responder.waitForRequest(1)
            #expect(request.history == [HistoryMessage(role: .user, text: "What time is it?")])
            request.send("Seven.")
            request.finish()
            let final = await session.events.next { if case .replyText(_, true, _) = $0 { true } else { false } }
            guard case .replyText(let reply, _, _) = final else { return }
            #expect(reply == "Seven.")
        }
    }

    @Test func commitsAreRefusedWithoutAudioAndUnderVADTurns() async throws {
        try await EngineHarness.run { session in
            _ = await Self.conversation(session, .manual)
            session.send(.commitTurn)
            let empty = await session.events.next("error")
            #expect(empty.errorCode == "INVALID_MESSAGE")
            session.send(.start(SessionOptions(turnTaking: .standard)))
            await session.events.next("session_start")
            session.send(.commitTurn)
            guard case .error(let error) = await session.events.next("error") else { return }
            #expect(error.message.contains("manual"))
        }
    }

    @Test func aClearedTurnIsForgotten() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session, .manual)
            listener.pending(tag: 3)
            session.send(.clearTurn)
            session.send(.commitTurn)
            #expect(await session.events.next("error").errorCode == "INVALID_MESSAGE")
            #expect(session.speech.state.value.started.isEmpty)
        }
    }

    @Test func aRequestedReplyToTextEndsEvenWhenEmptyAndFollowsTheHistoryAndInstructions() async throws {
        try await EngineHarness.run { session in
            _ = await Self.conversation(session, .manual)
            session.send(.start(SessionOptions(instructions: "Answer in French.")))
            await session.events.next("session_start")
            session.send(.addToHistory(HistoryMessage(role: .assistant, text: "Bonjour.")))
            session.send(.respond(userText: "Hello?"))
            let request = await session.responder.waitForRequest(1)
            #expect(request.history == [HistoryMessage(role: .assistant, text: "Bonjour."), HistoryMessage(role: .user, text: "Hello?")])
            #expect(request.instructions == "Answer in French.")
            request.finish()
            let final = await session.events.next { if case .replyText(_, true, _) = $0 { true } else { false } }
            guard case .replyText(let text, _, _) = final else { return }
            #expect(text.isEmpty)
        }
    }

    @Test func vadTurnsWithoutAutomaticRepliesAreTranscribedThenAnsweredOnRequest() async throws {
        try await EngineHarness.run { session in
            let listener = await Self.conversation(session, .automatic(respond: false, interrupt: true))
            session.speech.state.update { $0.results[4] = .text("Tell me a joke.") }
            session.send(.audio(listener.chunk(positionMs: 1500, [
                .speechStarted(atMs: 100), .speechEnded(atMs: 1000, startMs: 100, audio: ScriptedSpeech.audio(tag: 4)),
            ])))
            await session.events.next("transcript")
            #expect(session.events.all("vad").count == 2)
            // Give a wrongly started generation the chance to show.
            try await Task.sleep(for: .milliseconds(50))
            #expect(session.responder.requests.value.isEmpty)
            session.send(.respond(userText: nil))
            let request = await session.responder.waitForRequest(1)
            #expect(request.history.last == HistoryMessage(role: .user, text: "Tell me a joke."))
            #expect(request.instructions == nil)
            request.finish()
        }
    }
}
