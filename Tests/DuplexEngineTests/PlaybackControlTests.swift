import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Foundation
import GRPCCore
import Testing

/// Replies and PAUSE / RESUME / STOP against a scripted worker: frames move only when the
/// test emits them, so every ordering is exact.
@Suite(.timeLimit(.minutes(1))) struct PlaybackControlTests {
    @Test func aReplyPlaysItsFramesInOrderAndEnds() async throws {
        try await EngineHarness.run { session in
            let started = await session.events.next("session_start")
            guard case .sessionStarted(let description) = started else { return }
            #expect(description.worker == "w1")
            #expect(description.modelID == "voice-a")
            session.send(.text("Hello there. ", isFinal: false))
            session.send(.text("How are you?", isFinal: true))
            let synthesis = await session.workers[0].waitForSynthesis(1)
            await synthesis.waitForText { $0.finalReceived }
            #expect(synthesis.progress.value.text == "Hello there. How are you?")
            #expect(synthesis.synthesisID == "s1-t1-a1")
            await session.events.next("tts_start")
            synthesis.emit(segment: 0, frames: 3, tag: 1, announce: "Hello there.", range: 0..<12)
            synthesis.emit(segment: 1, frames: 2, tag: 2, announce: "How are you?", range: 13..<25)
            synthesis.end()
            let end = await session.events.next("tts_end")
            guard case .replyEnded(let turn, let frames, let reason, _) = end else { return }
            #expect(turn == "s1-t1")
            #expect(frames == 5)
            #expect(reason == .completed)
            let audio = session.events.all("audio").compactMap(\.frameIdentity)
            #expect(audio.map(\.tag) == [1, 1, 1, 2, 2])
            #expect(audio.map(\.index) == [0, 1, 2, 0, 1])
        }
    }

    @Test func pauseHoldsFramesInFlightAndResumeReleasesThemInOrderNothingLost() async throws {
        try await EngineHarness.run { session in
            await session.events.next("session_start")
            session.send(.text("One two three four five six.", isFinal: true))
            let synthesis = await session.workers[0].waitForSynthesis(1)
            synthesis.emit(segment: 0, frames: 3, tag: 1)
            await session.events.next { $0.frameIdentity?.index == 2 }
            session.send(.control(.pause))
            // The worker is told (off the receive path, addressed to this synthesis).
            await session.workers[0].waitForControls(1)
            let control = session.workers[0].state.value.controls[0]
            #expect(control.command == .pause)
            #expect(control.synthesis == synthesis.synthesisID)
            #expect(synthesis.progress.value.paused)
            // Frames already in flight when the worker paused: the gate holds them.
            synthesis.emit(segment: 0, frames: 4, tag: 1, first: 3)
            await waitUntil { session.probe.framesFromWorkers >= 4 }
            #expect(session.events.all("audio").count == 3)
            session.send(.control(.resume))
            await session.workers[0].waitForControls(2)
            #expect(session.workers[0].state.value.controls[1].command == .resume)
            synthesis.end()
            await session.events.next("tts_end")
            let indexes = session.events.all("audio").compactMap(\.frameIdentity?.index)
            #expect(indexes == Array(0..<7))
        }
    }

    @Test func stopEndsTheReplyAtOnceAndTheSessionKeepsWorking() async throws {
        try await EngineHarness.run { session in
            await session.events.next("session_start")
            session.send(.text("A long reply that is stopped.", isFinal: true))
            let synthesis = await session.workers[0].waitForSynthesis(1)
            synthesis.emit(segment: 0, frames: 2, tag: 1)
            await session.events.next { $0.frameIdentity?.index == 1 }
            session.send(.control(.stop))
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .stopped)
            // The worker is told STOP for that synthesis, and its stream is cancelled.
            await session.workers[0].waitForControls(1)
            #expect(session.workers[0].state.value.controls[0].command == .stop)
            await synthesis.progress.wait { !$0.open }
            // Frames the worker still sends for it go nowhere.
            #expect(session.events.all("audio").count == 2)
            session.send(.text("Still here.", isFinal: true))
            let next = await session.workers[0].waitForSynthesis(2)
            #expect(next.synthesisID == "s1-t2-a1")
            next.emit(segment: 0, frames: 2, tag: 9)
            next.end()
            let second = await session.events.next("tts_end")
            #expect(second.endReason == .completed)
        }
    }

    @Test func aFrozenWorkerDelaysNothingButItsOwnReply() async throws {
        try await EngineHarness.run { session in
            await session.events.next("session_start")
            let worker = session.workers[0]
            session.send(.text("The worker will freeze during this reply.", isFinal: true))
            let synthesis = await worker.waitForSynthesis(1)
            synthesis.emit(segment: 0, frames: 2, tag: 1)
            await session.events.next { $0.frameIdentity?.index == 1 }
            worker.freeze()
            // PAUSE (its RPC hangs on the frozen worker), then bad input and more text: all
            // handled meanwhile.
            session.send(.control(.pause))
            session.send(.control(.stop))
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .stopped)
            session.send(.audio(Data(count: 640)))
            let error = await session.events.next("error")
            #expect(error.errorCode == "INVALID_MESSAGE")
            session.send(.text("Next reply, queued while the worker is frozen.", isFinal: true))
            await session.events.next("tts_start")
            worker.thaw()
            let next = await worker.waitForSynthesis(2)
            next.emit(segment: 0, frames: 3, tag: 2)
            next.end()
            let second = await session.events.next("tts_end")
            #expect(second.endReason == .completed)
            // The controls sent while frozen reached the worker afterwards, for the old
            // synthesis only (refused there or applied to it; never to the new one).
            #expect(!worker.state.value.controls.contains { $0.synthesis == next.synthesisID })
            #expect(next.progress.value.paused == false)
        }
    }

    @Test func aControlForAFinishedSynthesisCannotTouchTheNextReply() async throws {
        // A v1.1 worker refuses a command that names another synthesis.
        try await EngineHarness.run { session in
            await session.events.next("session_start")
            session.send(.text("First.", isFinal: true))
            let first = await session.workers[0].waitForSynthesis(1)
            first.emit(segment: 0, frames: 1, tag: 1)
            first.end()
            await session.events.next("tts_end")
            session.send(.text("Second.", isFinal: true))
            let second = await session.workers[0].waitForSynthesis(2)
            second.emit(segment: 0, frames: 1, tag: 2)
            await session.events.next { $0.frameIdentity?.tag == 2 }
            // A late PAUSE for the first synthesis (as a slow network would deliver it).
            let connection = session.pool.connections[0]
            var request = Duplex_Tts_V1_ControlRequest()
            request.sessionID = session.sessionID
            request.synthesisID = first.synthesisID
            request.command = .pause
            let response = try await connection.call { [request] client, options in try await client.control(request, options: options) }
            #expect(response.success == false)
            #expect(second.progress.value.paused == false)
            second.end()
            await session.events.next("tts_end")
        }
    }

    @Test func repliesQueueBehindThePlayingOneAndOverflowIsRefused() async throws {
        var configuration = EngineHarness.configuration
        configuration.limits.maxQueuedReplies = 2
        try await EngineHarness.run(configuration: configuration) { session in
            await session.events.next("session_start")
            session.send(.text("Playing.", isFinal: true))
            let first = await session.workers[0].waitForSynthesis(1)
            await session.events.next("tts_start")
            session.send(.text("Queued one.", isFinal: true))
            session.send(.text("Queued two.", isFinal: true))
            session.send(.text("One too many.", isFinal: true))
            let refused = await session.events.next("error")
            #expect(refused.errorCode == "OVERLOADED")
            first.end()
            for n in 2...3 {
                let next = await session.workers[0].waitForSynthesis(n)
                await next.waitForText { $0.finalReceived }
                next.end()
            }
            await session.events.next { if case .replyEnded(let turn, _, _, _) = $0 { turn == "s1-t3" } else { false } }
            let texts = session.workers[0].state.value.syntheses.map { $0.progress.value.text }
            #expect(texts == ["Playing.", "Queued one.", "Queued two."])
        }
    }
}

/// Waits (yielding, not sleeping) until `condition` holds.
func waitUntil(_ condition: @Sendable () -> Bool) async {
    while !condition() { await Task.yield() }
}
