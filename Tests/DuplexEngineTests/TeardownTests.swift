import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Foundation
import GRPCCore
import Testing

/// The client vanishes in every state of the session: afterwards no session task runs, no
/// reservation is counted, no worker session or model lease is held, no LLM request or
/// transcription is left.
@Suite(.timeLimit(.minutes(1))) struct TeardownTests {
    enum Moment: String, CaseIterable, Sendable {
        case opening, idle, playing, pausedByClient, pausedBySpeech, awaitingTranscript, transcribing, generating
        case loadingModel, failingOver, frozenWorker
    }

    @Test(arguments: Moment.allCases)
    func theClientVanishing(at moment: Moment) async throws {
        let models = ["voice-a", "voice-b", "voice-c"]
        let workers = [ScriptedWorker(name: "w1", models: models, unloaded: ["voice-c"]), ScriptedWorker(name: "w2", models: models, unloaded: ["voice-c"])]
        let speech = ScriptedSpeech()
        let responder = ScriptedResponder()
        try await EngineHarness.run(workers: workers, speech: speech, responder: responder) { session in
            if moment == .opening {
                for worker in workers { worker.holdStartSession() }
                await Self.waitForStartSession(workers)
                session.disconnect()
                await session.waitUntilFinished()
                for worker in workers { worker.releaseStartSession() }
                try await Self.expectNothingLeft(session, workers: workers)
                return
            }
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let worker = try #require(session.worker(started.worker))
            session.send(.start(SessionOptions(mode: .conversation)))
            let listener = await speech.waitForListener()
            await session.events.next("session_start")

            func playReply() async -> ScriptedSynthesis {
                session.send(.text("A reply that plays for a while.", isFinal: true))
                let synthesis = await worker.waitForSynthesis(1)
                synthesis.emit(segment: 0, frames: 3, tag: 1)
                await session.events.next { $0.frameIdentity?.index == 2 }
                return synthesis
            }

            switch moment {
            case .opening, .idle:
                break
            case .playing:
                _ = await playReply()
            case .pausedByClient:
                _ = await playReply()
                session.send(.control(.pause))
                await worker.waitForControls(1)
            case .pausedBySpeech:
                _ = await playReply()
                session.send(.audio(listener.chunk(positionMs: 1000, [.bargeInEdge(atMs: 1000, onsetMs: 950)])))
                await worker.waitForControls(1)
            case .awaitingTranscript:
                _ = await playReply()
                speech.state.update { $0.held = [1] }
                session.send(.audio(listener.chunk(positionMs: 1600, [
                    .bargeInEdge(atMs: 1000, onsetMs: 950), .bargeInEdgeEnded(atMs: 1450, onsetMs: 950),
                    .speechEnded(atMs: 1450, startMs: 950, audio: ScriptedSpeech.audio(tag: 1)),
                ])))
                await speech.state.wait { $0.running == 1 }
            case .transcribing:
                speech.state.update { $0.held = [1] }
                session.send(.audio(listener.chunk(positionMs: 1600, [
                    .speechStarted(atMs: 200), .speechEnded(atMs: 1450, startMs: 200, audio: ScriptedSpeech.audio(tag: 1)),
                ])))
                await speech.state.wait { $0.running == 1 }
            case .generating:
                speech.state.update { $0.results[1] = .text("Tell me everything.") }
                session.send(.audio(listener.chunk(positionMs: 1600, [
                    .speechStarted(atMs: 200), .speechEnded(atMs: 1450, startMs: 200, audio: ScriptedSpeech.audio(tag: 1)),
                ])))
                let request = await responder.waitForRequest(1)
                request.send("Well, ")
                await worker.waitForSynthesis(1).waitForText { $0.text.contains("Well") }
            case .loadingModel:
                worker.holdLoads()
                session.send(.start(SessionOptions(modelID: "voice-c")))
                await session.events.next { if case .modelStatus(_, .loading, _) = $0 { true } else { false } }
                await worker.state.wait { $0.loads == ["voice-c"] }
            case .failingOver:
                let other = try #require(workers.first { $0 !== worker })
                other.holdStartSession()
                _ = await playReply()
                worker.kill()
                await other.state.wait { $0.startSessions.count == 1 }
            case .frozenWorker:
                _ = await playReply()
                worker.freeze()
                session.send(.control(.pause))
            }
            session.disconnect()
            if moment == .frozenWorker {
                // Teardown ends the worker session; a frozen worker answers once it thaws.
                worker.thaw()
            }
            await session.waitUntilFinished()
            for worker in workers { worker.releaseStartSession() }
            try await Self.expectNothingLeft(session, workers: workers)
            // Nothing started after the client left.
            if moment == .generating { #expect(responder.requests.value.count == 1) }
        }
    }

    /// The task running the session is cancelled instead of its input ending (the Wyoming
    /// server cancels it when the client's connection drops): the worker session is still
    /// ended. Before, teardown's `EndSession` was made from the cancelled task, failed at
    /// once without reaching the worker, and every such session stayed counted against
    /// `worker.max_sessions` until the next session was refused with `SESSION_LIMIT`.
    @Test(arguments: [Moment.idle, .playing])
    func theTaskRunningTheSessionBeingCancelled(at moment: Moment) async throws {
        try await EngineHarness.run { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let worker = try #require(session.worker(started.worker))
            #expect(worker.state.value.sessions.count == 1)
            if moment == .playing {
                session.send(.text("A reply that plays for a while.", isFinal: true))
                let synthesis = await worker.waitForSynthesis(1)
                synthesis.emit(segment: 0, frames: 3, tag: 1)
                await session.events.next { $0.frameIdentity?.index == 2 }
            }
            session.cancel()
            await session.waitUntilFinished()
            // `run` returns only once teardown's EndSession was answered.
            #expect(worker.state.value.endSessions == 1)
            try #require(worker.state.value.sessions.isEmpty)
            try await Self.expectNothingLeft(session, workers: session.workers)
        }
    }

    static func waitForStartSession(_ workers: [ScriptedWorker]) async {
        while !workers.contains(where: { !$0.state.value.startSessions.isEmpty }) { await Task.yield() }
    }

    static func expectNothingLeft(_ session: EngineHarness, workers: [ScriptedWorker]) async throws {
        #expect(session.probe.activeTasks == 0)
        #expect(session.pool.reservations.isEmpty)
        for worker in workers where !worker.isDead {
            await worker.waitUntilIdle()
            #expect(worker.state.value.sessions.isEmpty)
            #expect(worker.state.value.openSyntheses == 0)
        }
        #expect(session.responder.open == 0)
        #expect(session.speech.state.value.running == 0)
    }
}
