import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Foundation
import GRPCCore
import Testing

/// `start` with another model while a reply plays: the reply carries on, the next one uses
/// the new model; a model that must load first reports `loading`, then `ready`.
@Suite(.timeLimit(.minutes(1))) struct ModelSwitchTests {
    static let models = ["voice-a", "voice-b", "voice-c"]

    @Test func aResidentModelIsBoundAtOnceAndTheReplyGoesOn() async throws {
        try await EngineHarness.run(workers: [ScriptedWorker(name: "w1", models: Self.models)]) { session in
            await session.events.next("session_start")
            let worker = session.workers[0]
            session.send(.text("Playing with voice a.", isFinal: true))
            let first = await worker.waitForSynthesis(1)
            first.emit(segment: 0, frames: 2, tag: 1)
            await session.events.next { $0.frameIdentity?.index == 1 }
            session.send(.start(SessionOptions(modelID: "voice-b")))
            let status = await session.events.next("model_status")
            guard case .modelStatus(let model, let state, _) = status else { return }
            #expect(model == "voice-b")
            #expect(state == .ready)
            guard case .sessionStarted(let description) = await session.events.next("session_start") else { return }
            #expect(description.modelID == "voice-b")
            #expect(worker.state.value.sessions[session.sessionID] == "voice-b")
            // The reply that was playing is not interrupted.
            first.emit(segment: 0, frames: 2, tag: 1, first: 2)
            first.end()
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            #expect(session.events.all("audio").count == 4)
        }
    }

    @Test func aModelThatMustLoadReportsLoadingThenReadyWhileTheReplyPlays() async throws {
        let worker = ScriptedWorker(name: "w1", models: Self.models, unloaded: ["voice-c"])
        try await EngineHarness.run(workers: [worker]) { session in
            await session.events.next("session_start")
            worker.holdLoads()
            session.send(.text("Still voice a.", isFinal: true))
            let first = await worker.waitForSynthesis(1)
            session.send(.start(SessionOptions(modelID: "voice-c")))
            guard case .modelStatus(_, let loading, let message) = await session.events.next("model_status") else { return }
            #expect(loading == .loading)
            #expect(message?.contains("voice-a") == true)
            await worker.state.wait { $0.loads == ["voice-c"] }
            // Meanwhile the reply plays, and other messages are answered.
            first.emit(segment: 0, frames: 3, tag: 1)
            await session.events.next { $0.frameIdentity?.index == 2 }
            session.send(.control(.pause))
            await worker.waitForControls(1)
            session.send(.control(.resume))
            await worker.waitForControls(2)
            worker.releaseLoad()
            guard case .modelStatus(_, let ready, _) = await session.events.next("model_status") else { return }
            #expect(ready == .ready)
            guard case .sessionStarted(let description) = await session.events.next("session_start") else { return }
            #expect(description.modelID == "voice-c")
            first.end()
            await session.events.next("tts_end")
            session.send(.text("Now voice c.", isFinal: true))
            _ = await worker.waitForSynthesis(2)
            #expect(worker.state.value.sessions[session.sessionID] == "voice-c")
        }
    }

    @Test func anUnknownModelIsRefusedAndTheSessionKeepsItsVoice() async throws {
        try await EngineHarness.run(workers: [ScriptedWorker(name: "w1", models: Self.models)]) { session in
            await session.events.next("session_start")
            session.send(.start(SessionOptions(modelID: "no-such-voice")))
            let error = await session.events.next("error")
            #expect(error.errorCode == "UNKNOWN_MODEL")
            #expect(session.workers[0].state.value.sessions[session.sessionID] == "voice-a")
        }
    }

    @Test func aNewerSwitchCancelsALoadStillRunning() async throws {
        let worker = ScriptedWorker(name: "w1", models: Self.models, unloaded: ["voice-c"])
        try await EngineHarness.run(workers: [worker]) { session in
            await session.events.next("session_start")
            worker.holdLoads()
            session.send(.start(SessionOptions(modelID: "voice-c")))
            await worker.state.wait { $0.loads == ["voice-c"] }
            session.send(.start(SessionOptions(modelID: "voice-b")))
            guard case .sessionStarted(let description) = await session.events.next(where: {
                if case .sessionStarted(let d) = $0 { d.modelID == "voice-b" } else { false }
            }) else { return }
            #expect(description.modelID == "voice-b")
            worker.releaseLoad()
            // The abandoned load never switches the session.
            session.send(.text("Voice b.", isFinal: true))
            _ = await worker.waitForSynthesis(1)
            #expect(worker.state.value.sessions[session.sessionID] == "voice-b")
            #expect(!session.events.all("model_status").contains { if case .modelStatus("voice-c", .ready, _) = $0 { true } else { false } })
        }
    }
}
