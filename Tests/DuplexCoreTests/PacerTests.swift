import DuplexDSP
import Testing

@Suite struct PacerTests {
    @Test func deadlinesAreAbsoluteSoSchedulingErrorDoesNotAccumulate() {
        let clock = ContinuousClock()
        var pacer = Pacer(clock: clock, interval: .milliseconds(20), lead: 3)
        let start = clock.now
        var deadlines: [ContinuousClock.Instant] = []
        var now = start
        for _ in 0..<100 {
            let deadline = pacer.nextDeadline(now: now)
            deadlines.append(deadline)
            // Wake up 3 ms late each time: the schedule must not drift.
            now = max(now, deadline) + .milliseconds(3)
        }
        #expect(deadlines[0] <= start)  // lead frames go at once
        #expect(deadlines[2] <= start)
        #expect(deadlines[3] == start)
        #expect(deadlines[99] == start + .milliseconds(20 * 96))
    }

    @Test func underrunRestartsTheScheduleWithAFreshLead() {
        let clock = ContinuousClock()
        var pacer = Pacer(clock: clock, interval: .milliseconds(20), lead: 2)
        let start = clock.now
        for _ in 0..<10 { _ = pacer.nextDeadline(now: start) }
        // The producer stalls for a second: frame 10 is far behind schedule.
        let late = start + .seconds(1)
        let deadline = pacer.nextDeadline(now: late)
        #expect(deadline <= late)
        _ = pacer.nextDeadline(now: late)
        #expect(pacer.nextDeadline(now: late) == late)  // lead of 2, then real time
        #expect(pacer.nextDeadline(now: late) == late + .milliseconds(20))
    }

    @Test func reanchorAfterPauseStartsFromNow() {
        let clock = ContinuousClock()
        var pacer = Pacer(clock: clock, interval: .milliseconds(20), lead: 0)
        let start = clock.now
        #expect(pacer.nextDeadline(now: start) == start)
        #expect(pacer.nextDeadline(now: start) == start + .milliseconds(20))
        pacer.reanchor()
        let resumed = start + .milliseconds(500)
        #expect(pacer.nextDeadline(now: resumed) == resumed)
        #expect(pacer.nextDeadline(now: resumed) == resumed + .milliseconds(20))
    }

    @Test func sleepingPacerKeepsRealTime() async throws {
        let clock = ContinuousClock()
        var pacer = Pacer(clock: clock, interval: .milliseconds(10), lead: 0)
        let start = clock.now
        for _ in 0..<21 { try await pacer.waitForNextFrame() }
        let elapsed = start.duration(to: clock.now)
        // 20 intervals of 10 ms: never faster than real time. The upper bound is generous
        // because the suite runs model inference in parallel on 2 cores; drift is measured
        // exactly by the deadline tests above and by `duplex bench tts` (jitter).
        #expect(elapsed >= .milliseconds(200))
        #expect(elapsed < .seconds(5))
    }
}
