import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Foundation
import GRPCCore
import Testing

/// A reply's worker dies mid-reply, with three workers: the session moves, the worker it
/// announces is the one it uses, the next worker gets the text from the clause that was
/// playing, and the client hears every frame once.
@Suite(.timeLimit(.minutes(1))) struct FailoverTests {
    static let text = "Alpha one. Bravo two. Charlie three."
    static let framesPerSegment = 3

    /// The segments a worker makes of `text` (the real worker's segmenter).
    static func segments(of text: String) -> [TextSegmenter.Segment] {
        var segmenter = TextSegmenter()
        return segmenter.appendSegments(text) + segmenter.flushSegments()
    }

    /// Every frame of every clause once, in order, as "segment.frame".
    static var everyFrameOnce: [String] {
        (0..<segments(of: text).count).flatMap { s in (0..<framesPerSegment).map { "\(s).\($0)" } }
    }

    /// Frames of the reply the client received, as (tag, index).
    static func heard(_ session: EngineHarness) -> [String] {
        session.events.all("audio").compactMap(\.frameIdentity).map { "\($0.tag).\($0.index)" }
    }

    /// Makes `synthesis` speak its text: every segment as `framesPerSegment` frames tagged by
    /// the segment's position in the whole reply (`base` + index), one frame at a time,
    /// stopping after `limit` frames (then the caller kills the worker).
    static func speak(
        _ synthesis: ScriptedSynthesis, base: Int, limit: Int?, session: EngineHarness, clientFramesBefore: Int, skip: Int
    ) async -> Int {
        await synthesis.waitForText { $0.finalReceived }
        let segments = Self.segments(of: synthesis.progress.value.text)
        var sent = 0
        for (index, segment) in segments.enumerated() {
            for frame in 0..<framesPerSegment {
                if let limit, sent == limit { return sent }
                synthesis.emit(
                    segment: index, frames: 1, tag: UInt32(base + index), first: UInt32(frame),
                    announce: frame == 0 ? segment.text : nil, range: segment.range)
                sent += 1
                // Skipped frames never reach the client; wait for the others one by one.
                if sent > skip {
                    let expected = clientFramesBefore + sent - skip
                    await waitUntil { session.events.all("audio").count >= expected }
                }
            }
        }
        if limit == nil { synthesis.end() }
        return sent
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 8, 9])
    func aWorkerKilledAtAnyPointHandsTheRestToAnotherWorkerOnce(killAfter: Int) async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2"), ScriptedWorker(name: "w3")]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let first = try #require(session.worker(started.worker))
            session.send(.text(Self.text, isFinal: true))
            let a = await first.waitForSynthesis(1)
            _ = await Self.speak(a, base: 0, limit: killAfter, session: session, clientFramesBefore: 0, skip: 0)
            first.kill()

            guard case .workerChanged(let turn, let from, let to, let resumeSegment, _) = await session.events.next("worker_changed") else { return }
            #expect(turn == "s1-t1")
            #expect(from == first.name)
            // The announced worker is the one whose session opened and that synthesizes.
            let second = try #require(session.worker(to))
            #expect(second !== first)
            #expect(second.state.value.sessions[session.sessionID] != nil)
            let third = try #require(workers.first { $0 !== first && $0 !== second })
            #expect(third.state.value.startSessions.isEmpty)
            // The resume point: the clause that was playing (nothing played: the first).
            let segments = Self.segments(of: Self.text)
            let playing = killAfter == 0 ? 0 : (killAfter - 1) / Self.framesPerSegment
            #expect(resumeSegment == playing)
            let b = await second.waitForSynthesis(1)
            await b.waitForText { $0.finalReceived }
            let resumeStart = Self.text.index(Self.text.startIndex, offsetBy: segments[playing].range.lowerBound)
            #expect(b.progress.value.text == String(Self.text[resumeStart...]))
            let heardOfPlaying = killAfter - playing * Self.framesPerSegment
            _ = await Self.speak(b, base: playing, limit: nil, session: session, clientFramesBefore: killAfter, skip: heardOfPlaying)
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            // Every frame of every clause exactly once, in order, and counted once.
            let expected = Self.everyFrameOnce
            #expect(Self.heard(session) == expected)
            if case .replyEnded(_, let frames, _, _) = end { #expect(frames == expected.count) }
            let sequences = session.events.all("audio").compactMap { if case .audio(_, _, let sequence) = $0 { sequence } else { nil } }
            #expect(sequences == Array(1...expected.count))
            // The dead worker's session was let go; the pool counts one session, on the new worker.
            #expect(session.pool.reservations == [second.name: 1])
        }
    }

    @Test(arguments: [4, 7])
    func aSecondFailoverContinuesFromWhereTheSecondWorkerWas(secondKill: Int) async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2"), ScriptedWorker(name: "w3")]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let first = try #require(session.worker(started.worker))
            session.send(.text(Self.text, isFinal: true))
            let a = await first.waitForSynthesis(1)
            _ = await Self.speak(a, base: 0, limit: 2, session: session, clientFramesBefore: 0, skip: 0)
            first.kill()
            guard case .workerChanged(_, let from1, let to1, _, _) = await session.events.next("worker_changed") else { return }
            let second = try #require(session.worker(to1))
            let b = await second.waitForSynthesis(1)
            // B re-speaks the first clause (2 frames skipped), then is killed after `secondKill` frames.
            _ = await Self.speak(b, base: 0, limit: secondKill, session: session, clientFramesBefore: 2, skip: 2)
            second.kill()
            guard case .workerChanged(_, let from2, let to2, let resume2, _) = await session.events.next("worker_changed") else { return }
            #expect(from1 == first.name)
            #expect(from2 == to1)
            #expect(to2 != from1 && to2 != from2)
            let third = try #require(session.worker(to2))
            let c = await third.waitForSynthesis(1)
            await c.waitForText { $0.finalReceived }
            let segments = Self.segments(of: Self.text)
            let playing = (secondKill - 1) / Self.framesPerSegment
            #expect(resume2 == playing)
            let start = Self.text.index(Self.text.startIndex, offsetBy: segments[playing].range.lowerBound)
            #expect(c.progress.value.text == String(Self.text[start...]))
            let heardBefore = secondKill
            _ = await Self.speak(
                c, base: playing, limit: nil, session: session, clientFramesBefore: heardBefore,
                skip: secondKill - playing * Self.framesPerSegment)
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            let expected = Self.everyFrameOnce
            #expect(Self.heard(session) == expected)
        }
    }

    @Test func aWorkerOfABIOneZeroIsFollowedByLocalSegmentation() async throws {
        let workers = [ScriptedWorker(name: "w1", abi: .v1_0), ScriptedWorker(name: "w2", abi: .v1_0)]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let first = try #require(session.worker(started.worker))
            session.send(.text(Self.text, isFinal: true))
            let a = await first.waitForSynthesis(1)
            // No synthesis id of ours: the worker names it itself.
            #expect(a.synthesisID.hasPrefix(first.name))
            _ = await Self.speak(a, base: 0, limit: 4, session: session, clientFramesBefore: 0, skip: 0)
            first.kill()
            guard case .workerChanged(_, _, let to, let resume, _) = await session.events.next("worker_changed") else { return }
            #expect(resume == 1)
            let second = try #require(session.worker(to))
            let b = await second.waitForSynthesis(1)
            await b.waitForText { $0.finalReceived }
            #expect(b.progress.value.text == "Bravo two. Charlie three.")
            _ = await Self.speak(b, base: 1, limit: nil, session: session, clientFramesBefore: 4, skip: 1)
            await session.events.next("tts_end")
            #expect(Self.heard(session) == Self.everyFrameOnce)
        }
    }

    @Test func whenNoLiveWorkerHasTheVoiceTheReplyGoesOnInAnotherOne() async throws {
        let workers = [ScriptedWorker(name: "w1", models: ["voice-a", "voice-b"]), ScriptedWorker(name: "w2", models: ["voice-c", "voice-d"])]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let first = try #require(session.worker(started.worker))
            let other = try #require(workers.first { $0 !== first })
            // The client chose the bound worker's second voice, which only that worker has.
            let voice = first.state.value.models.keys.sorted()[1]
            session.send(.start(SessionOptions(modelID: voice)))
            guard case .sessionStarted(let switched) = await session.events.next("session_start") else { return }
            #expect(switched.modelID == voice)
            session.send(.text(Self.text, isFinal: true))
            let a = await first.waitForSynthesis(1)
            _ = await Self.speak(a, base: 0, limit: 4, session: session, clientFramesBefore: 0, skip: 0)
            first.kill()
            guard case .workerChanged(_, _, let to, _, let model) = await session.events.next("worker_changed") else { return }
            #expect(to == other.name)
            #expect(model == other.state.value.models.keys.sorted()[0])
            let b = await other.waitForSynthesis(1)
            _ = await Self.speak(b, base: 1, limit: nil, session: session, clientFramesBefore: 4, skip: 1)
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .completed)
            #expect(Self.heard(session) == Self.everyFrameOnce)
        }
    }

    @Test func withOneWorkerAFailureIsAnErrorAndTheNextReplyOpensAgain() async throws {
        try await EngineHarness.run { session in
            await session.events.next("session_start")
            session.send(.text("Doomed.", isFinal: true))
            let a = await session.workers[0].waitForSynthesis(1)
            a.emit(segment: 0, frames: 1)
            await session.events.next("audio")
            a.fail(.unavailable)
            let error = await session.events.next("error")
            #expect(error.errorCode == "WORKER_UNAVAILABLE")
            let end = await session.events.next("tts_end")
            #expect(end.endReason == .error)
            #expect(session.pool.reservations.isEmpty)
            session.send(.text("Again.", isFinal: true))
            let b = await session.workers[0].waitForSynthesis(2)
            b.end()
            let next = await session.events.next("tts_end")
            #expect(next.endReason == .completed)
        }
    }

    @Test func aWorkerBugIsNotAnOutage() async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2")]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            session.send(.text("Hello.", isFinal: true))
            let a = await session.worker(started.worker)!.waitForSynthesis(1)
            a.fail(.unknown)
            let error = await session.events.next("error")
            #expect(error.errorCode == "SYNTHESIS_FAILED")
            await session.events.next("tts_end")
            #expect(session.events.all("worker_changed").isEmpty)
        }
    }

    @Test func aStalledWorkerIsTreatedAsGoneAfterTheStallTimeoutOnTheSessionClock() async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2")]
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let first = try #require(session.worker(started.worker))
            session.send(.text("Stalled.", isFinal: true))
            let a = await first.waitForSynthesis(1)
            await a.waitForText { $0.finalReceived }
            a.emit(segment: 0, frames: 1, tag: 0, announce: "Stalled.", range: 0..<8)
            await session.events.next("audio")
            // Paused for long: not a stall.
            session.send(.control(.pause))
            await first.waitForControls(1)
            await session.clock.waitForSleepers(1)
            session.clock.advance(by: .seconds(10))
            await session.clock.waitForSleepers(1)
            #expect(session.events.all("worker_changed").isEmpty)
            session.send(.control(.resume))
            await first.waitForControls(2)
            // Silence past the 2 s stall timeout while playing: the worker is gone.
            session.clock.advance(by: .milliseconds(2100))
            session.clock.advance(by: .milliseconds(2100))
            guard case .workerChanged(_, let from, _, _, _) = await session.events.next("worker_changed") else { return }
            #expect(from == first.name)
        }
    }
}
