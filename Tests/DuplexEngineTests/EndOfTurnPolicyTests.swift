@testable import DuplexEngine
import Testing

/// The end-of-turn decision logic, driven by scripted VAD edges and model answers (input ms).
@Suite struct EndOfTurnPolicyTests {
    static let model = EndOfTurnPolicy.Mode.model(probeMs: 200, threshold: 0.5, maxSilenceMs: 2500, fallbackSilenceMs: 500, reprobeMs: 0)

    @Test func fixedSilenceEndsTheTurnAtTheSegmentEnd() {
        var policy = EndOfTurnPolicy(mode: .fixedSilence)
        #expect(policy.speechStarted(atMs: 1000) == [.turnStarted(atMs: 1000)])
        #expect(policy.speechEnded(atMs: 2000, nowMs: 2520) == [
            .turnEnded(startMs: 1000, endMs: 2000, EndOfTurnDecision(reason: .fixedSilence, probability: nil, silenceMs: 520)),
        ])
        #expect(policy.state == .idle)
    }

    @Test func aCompleteAnswerEndsTheTurnAtThePause() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 1000)
        #expect(policy.speechEnded(atMs: 2000, nowMs: 2200) == [.probe(id: 1, turnStartMs: 1000)])
        #expect(policy.advanced(toMs: 2220).isEmpty)
        #expect(policy.probeFinished(id: 1, probability: 0.93, nowMs: 2260) == [
            .probed(TurnProbe(atMs: 2260, silenceMs: 260, probability: 0.93, complete: true)),
            .turnEnded(startMs: 1000, endMs: 2000, EndOfTurnDecision(reason: .model, probability: 0.93, silenceMs: 260)),
        ])
        #expect(policy.state == .idle)
    }

    @Test func anIncompleteAnswerKeepsOneTurnAcrossThePause() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 1000)
        _ = policy.speechEnded(atMs: 2000, nowMs: 2200)
        #expect(policy.probeFinished(id: 1, probability: 0.04, nowMs: 2250) == [
            .probed(TurnProbe(atMs: 2250, silenceMs: 250, probability: 0.04, complete: false)),
        ])
        // 800 ms later the user goes on: same turn, no new start.
        #expect(policy.advanced(toMs: 2800).isEmpty)
        #expect(policy.speechStarted(atMs: 2800).isEmpty)
        #expect(policy.turnStartMs == 1000)
        #expect(policy.speechEnded(atMs: 3600, nowMs: 3800) == [.probe(id: 2, turnStartMs: 1000)])
        #expect(policy.probeFinished(id: 2, probability: 0.97, nowMs: 3840).last
            == .turnEnded(startMs: 1000, endMs: 3600, EndOfTurnDecision(reason: .model, probability: 0.97, silenceMs: 240)))
    }

    @Test func anAnswerForAPauseTheUserAlreadyEndedIsIgnored() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 0)
        _ = policy.speechEnded(atMs: 1000, nowMs: 1200)
        _ = policy.speechStarted(atMs: 1250)
        // The model took long; its "complete" arrives while the user speaks again.
        #expect(policy.probeFinished(id: 1, probability: 0.99, nowMs: 1300).isEmpty)
        #expect(policy.state == .speaking(turnStartMs: 0))
        _ = policy.speechEnded(atMs: 2000, nowMs: 2200)
        #expect(policy.probeFinished(id: 1, probability: 0.99, nowMs: 2210).isEmpty)
        #expect(policy.probeFinished(id: 2, probability: 0.2, nowMs: 2230).count == 1)
    }

    @Test(arguments: [Float?.some(0.04), nil])
    func maxSilenceEndsATurnTheModelCallsIncompleteOrNeverAnswers(probability: Float?) {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 0)
        _ = policy.speechEnded(atMs: 1000, nowMs: 1200)
        if let probability { _ = policy.probeFinished(id: 1, probability: probability, nowMs: 1250) }
        #expect(policy.advanced(toMs: 3499).isEmpty)
        #expect(policy.advanced(toMs: 3500) == [
            .turnEnded(startMs: 0, endMs: 1000, EndOfTurnDecision(reason: .maxSilence, probability: probability, silenceMs: 2500)),
        ])
    }

    @Test func aPauseCalledIncompleteIsJudgedAgainAfterReprobeMs() {
        var policy = EndOfTurnPolicy(mode: .model(probeMs: 200, threshold: 0.5, maxSilenceMs: 2500, fallbackSilenceMs: 500, reprobeMs: 1000))
        _ = policy.speechStarted(atMs: 0)
        #expect(policy.quiet(sinceMs: 1000, nowMs: 1200) == [.probe(id: 1, turnStartMs: 0)])
        _ = policy.probeFinished(id: 1, probability: 0.1, nowMs: 1250)
        // A 900 ms thinking pause is asked about once.
        #expect(policy.advanced(toMs: 1900).isEmpty)
        #expect(policy.advanced(toMs: 2199).isEmpty)
        #expect(policy.advanced(toMs: 2200) == [.probe(id: 2, turnStartMs: 0)])
        // 1250 ms into a 2500 ms maximum: the bar is half the threshold (0.25).
        #expect(policy.probeFinished(id: 2, probability: 0.3, nowMs: 2250).last
            == .turnEnded(startMs: 0, endMs: 1000, EndOfTurnDecision(reason: .model, probability: 0.3, silenceMs: 1250)))
    }

    @Test func quietAndLoudInputPauseAndResumeATurn() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 0)
        #expect(policy.quiet(sinceMs: 900, nowMs: 1099).isEmpty)
        #expect(policy.quiet(sinceMs: 900, nowMs: 1100) == [.probe(id: 1, turnStartMs: 0)])
        #expect(policy.loud(atMs: 1300, vadSpeaking: true).isEmpty)
        #expect(policy.state == .speaking(turnStartMs: 0))
        // The VAD's own (late) segment end for speech the loudness already paused is not a new pause.
        _ = policy.quiet(sinceMs: 2000, nowMs: 2200)
        #expect(policy.speechEnded(atMs: 2000, nowMs: 2400).isEmpty)
        _ = policy.probeFinished(id: 2, probability: 0.9, nowMs: 2250)
        #expect(policy.state == .idle)
        // A click inside the VAD segment the model already ended starts nothing…
        #expect(policy.loud(atMs: 2300, vadSpeaking: true).isEmpty)
        #expect(policy.speechEnded(atMs: 2340, nowMs: 2600).isEmpty)
        #expect(policy.state == .idle)
        // …speech there does, once the VAD's segment shows it lasted.
        #expect(policy.loud(atMs: 2700, vadSpeaking: true).isEmpty)
        #expect(policy.speechEnded(atMs: 3400, nowMs: 3600) == [.turnStarted(atMs: 2700), .probe(id: 3, turnStartMs: 2700)])
    }

    @Test func aFailedModelCallFallsBackToTheFixedSilence() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 0)
        _ = policy.speechEnded(atMs: 1000, nowMs: 1200)
        #expect(policy.probeFinished(id: 1, probability: nil, nowMs: 1260).isEmpty)
        #expect(policy.advanced(toMs: 1499).isEmpty)
        #expect(policy.advanced(toMs: 1500) == [
            .turnEnded(startMs: 0, endMs: 1000, EndOfTurnDecision(reason: .modelFailed, probability: nil, silenceMs: 500)),
        ])
        // The next turn asks the model again.
        _ = policy.speechStarted(atMs: 3000)
        #expect(policy.speechEnded(atMs: 4000, nowMs: 4200) == [.probe(id: 2, turnStartMs: 3000)])
    }

    @Test func theStreamEndingClosesATurnInProgress() {
        var policy = EndOfTurnPolicy(mode: Self.model)
        _ = policy.speechStarted(atMs: 0)
        #expect(policy.finish(nowMs: 900) == [
            .turnEnded(startMs: 0, endMs: 900, EndOfTurnDecision(reason: .streamEnded, probability: nil, silenceMs: 0)),
        ])
        #expect(policy.finish(nowMs: 1000).isEmpty)
    }
}
