import DuplexCore
import DuplexTesting
@testable import DuplexWorker
import Testing

/// How the pipeline times its inference calls and its frames.
@Suite struct SynthesisPacingTests {
    typealias Pipeline = SynthesisPipeline<DuplexTesting.ManualClock>

    @Test func theFirstSegmentIsDueNowALaterOneWhenTheBufferedAudioRunsOut() {
        let margin = Duration.milliseconds(200)
        #expect(Pipeline.urgency(segment: 0, bufferedFrames: 0, leadFrames: 3, margin: margin, paced: true) == .now)
        #expect(Pipeline.urgency(segment: 0, bufferedFrames: 90, leadFrames: 3, margin: margin, paced: true) == .now)
        // 47 frames not yet sent + 3 the listener holds = 1 s of audio; due 200 ms before it ends.
        #expect(Pipeline.urgency(segment: 1, bufferedFrames: 47, leadFrames: 3, margin: margin, paced: true) == .paced(slack: .milliseconds(800)))
        // Less audio in hand than the margin: due now.
        #expect(Pipeline.urgency(segment: 2, bufferedFrames: 2, leadFrames: 3, margin: margin, paced: true) == .paced(slack: .zero))
        #expect(Pipeline.urgency(segment: 0, bufferedFrames: 0, leadFrames: 3, margin: margin, paced: false) == .unpaced)
        #expect(Pipeline.urgency(segment: 3, bufferedFrames: 40, leadFrames: 3, margin: margin, paced: false) == .unpaced)
    }

    /// `pacing: false`: every frame goes out without waiting on the clock (the manual clock is
    /// never advanced; a paced run would stop after its lead).
    @Test(.timeLimit(.minutes(1))) func anUnpacedSynthesisNeverWaitsForTheClock() async throws {
        let voice = try await SineAdapter().load(SineAdapter().builtInModels()[0])
        let model = LoadedModel(voice: voice, gain: 1, loadDuration: .zero, warmupDuration: .zero)
        var options = VoiceOptions()
        options.pacing = false
        let pipeline = SynthesisPipeline(
            model: model, options: options, leadFrames: 3, synthesisAhead: 2, maxCharacters: 10_000, clock: DuplexTesting.ManualClock())
        let frames = Locked(0)
        let texts = Locked([TextPiece(text: "One two three four five six seven. Eight nine ten eleven twelve.", isFinal: true)])
        let (reason, figures) = try await pipeline.run(
            SynthesisRun(), nextText: { texts.withLock { $0.isEmpty ? nil : $0.removeFirst() } },
            emit: { frame in if !frame.isFinal { frames.withLock { $0 += 1 } } })
        #expect(reason == .completed)
        #expect(frames.withLock { $0 } > 50)
        #expect(!figures.paced)
        #expect(figures.lateFrames == 0)
    }

    @Test func thePacingOptionParses() throws {
        #expect(try VoiceOptions(parsing: [:]).pacing)
        #expect(try !VoiceOptions(parsing: ["pacing": "false"]).pacing)
        #expect(try VoiceOptions(parsing: ["admission": "force"]).forceAdmission)
        #expect(throws: DuplexError.self) { try VoiceOptions(parsing: ["pacing": "maybe"]) }
        #expect(throws: DuplexError.self) { try VoiceOptions(parsing: ["admission": "please"]) }
    }
}
