import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import Testing

/// The worker's late-frame count (ABI v1.1 end marker) reaches the client in `tts_end`.
@Suite(.timeLimit(.minutes(1))) struct LateFramesTests {
    @Test(arguments: [0, 3])
    func theWorkersLateFramesAreReportedInTheReplysEnd(late: Int) async throws {
        try await EngineHarness.run { session in
            _ = await session.events.next("session_start")
            session.send(.text("Alpha one.", isFinal: true))
            let synthesis = await session.workers[0].waitForSynthesis(1)
            await synthesis.waitForText { $0.finalReceived }
            synthesis.emit(segment: 0, frames: 4, announce: "Alpha one.", range: 0..<10)
            synthesis.end(.completed, lateFrames: UInt32(late))
            let end = await session.events.next("tts_end")
            guard case .replyEnded(_, let frames, let reason, let lateFrames) = end else { return }
            #expect(reason == .completed)
            #expect(frames == 4)
            #expect(lateFrames == late)
        }
    }
}
