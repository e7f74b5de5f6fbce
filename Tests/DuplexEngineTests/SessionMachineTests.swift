import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import Testing

@testable import DuplexEngine

/// The session's transitions as pure functions: events in, state and actions out.
@Suite struct SessionMachineTests {
    static func machine() -> SessionMachine {
        var conversation = ConversationSection()
        conversation.minInterruptionMs = 300
        conversation.backchannelMaxMs = 800
        return SessionMachine(sessionID: "s", limits: LimitsSection(), conversation: conversation, bargeInSettleMs: 100)
    }

    static func playing(_ machine: inout SessionMachine) -> Reply {
        let reply = Reply(turnID: "s-t1", maxCharacters: 100)
        let playing = machine.replyWillPlay(reply)
        #expect(playing)
        return reply
    }

    static let listener = ScriptedStubListener()

    static func commands(_ actions: [SessionAction]) -> [PlaybackCommand] {
        actions.compactMap { if case .control(_, let command) = $0 { command } else { nil } }
    }

    @Test func speechOverTheReplyStopsItExactlyAtTheThreshold() {
        var machine = Self.machine()
        let reply = Self.playing(&machine)
        let paused = machine.heard(.bargeInEdge(atMs: 1000, onsetMs: 1000), positionMs: 1000, receivedAt: .seconds(1), listener: Self.listener)
        #expect(Self.commands(paused) == [.pause])
        #expect(reply.gate.isPaused)
        // Threshold: max(300, 800) + 100 ms settle = 900 ms after the onset.
        let early = machine.confirmInterruption(positionMs: 1899)
        #expect(early.isEmpty)
        guard case .paused(_, by: .userSpeech) = machine.playback else {
            Issue.record("expected paused by user speech")
            return
        }
        let confirmed = machine.confirmInterruption(positionMs: 1900)
        #expect(Self.commands(confirmed) == [.stop])
        #expect(reply.gate.isStopped)
        guard case .bargeIn = reply.stopReason else {
            Issue.record("expected a barge-in stop")
            return
        }
        guard case .idle = machine.playback else {
            Issue.record("expected idle")
            return
        }
    }

    @Test(arguments: [(299, "resume"), (300, "await"), (799, "await"), (800, "stop")])
    func theSpeechLengthDecides(durationMs: Int, outcome: String) {
        var machine = Self.machine()
        let reply = Self.playing(&machine)
        _ = machine.heard(.bargeInEdge(atMs: 1000, onsetMs: 1000), positionMs: 1000, receivedAt: .seconds(1), listener: Self.listener)
        let actions = machine.heard(
            .bargeInEdgeEnded(atMs: 1000 + durationMs, onsetMs: 1000), positionMs: 1100 + durationMs, receivedAt: .seconds(2),
            listener: Self.listener)
        switch (outcome, machine.playback) {
        case ("resume", .playing):
            #expect(Self.commands(actions) == [.resume])
            #expect(!reply.gate.isPaused)
        case ("await", .awaitingTranscript):
            #expect(actions.isEmpty)
            #expect(reply.gate.isPaused)
        case ("stop", .idle):
            #expect(Self.commands(actions) == [.stop])
        default:
            Issue.record("\(durationMs) ms: expected \(outcome), got \(machine.playback)")
        }
    }

    @Test func theClientsPauseWinsOverSpeech() {
        var machine = Self.machine()
        let reply = Self.playing(&machine)
        _ = machine.heard(.bargeInEdge(atMs: 1000, onsetMs: 1000), positionMs: 1000, receivedAt: .seconds(1), listener: Self.listener)
        let pause = machine.clientControl(.pause)
        #expect(pause.isEmpty)
        // The sound ends quickly: it would resume a reply paused by speech, not this one.
        let ended = machine.heard(.bargeInEdgeEnded(atMs: 1100, onsetMs: 1000), positionMs: 1200, receivedAt: .seconds(2), listener: Self.listener)
        #expect(ended.isEmpty)
        #expect(reply.gate.isPaused)
        let resume = machine.clientControl(.resume)
        #expect(Self.commands(resume) == [.resume])
        #expect(!reply.gate.isPaused)
    }

    @Test func controlsWithoutAReplyDoNothing() {
        var machine = Self.machine()
        for command in [PlaybackCommand.pause, .resume, .stop] {
            let actions = machine.clientControl(command)
            #expect(actions.isEmpty)
        }
    }

    @Test func textPiecesComposeOneReplyAndANewOneStartsAfterTheFinalPiece() {
        var machine = Self.machine()
        var queued: [Reply] = []
        _ = machine.clientText("One ", isFinal: false, at: .zero) { queued.append($0); return true }
        _ = machine.clientText("two.", isFinal: true, at: .zero) { queued.append($0); return true }
        _ = machine.clientText("Three.", isFinal: true, at: .zero) { queued.append($0); return true }
        #expect(queued.map(\.turnID) == ["s-t1", "s-t2"])
        let refused = machine.clientText("Four.", isFinal: true, at: .zero) { _ in false }
        guard case .send(.error(let error)) = refused.first else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .overloaded)
    }

    @Test func backchannelWordsAreRecognized() {
        let machine = Self.machine()
        #expect(machine.isBackchannel("Okay."))
        #expect(machine.isBackchannel("Mm hmm"))
        #expect(!machine.isBackchannel("Okay, stop."))
    }
}

/// A listener for transitions that never call it.
final class ScriptedStubListener: SpeechListener {
    func accept(_ pcm: Data) async throws(DuplexError) -> [SpeechEvent] { [] }
    var positionMs: Int { 0 }
    func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript? { nil }
}
