import DuplexCore
import DuplexDSP
import DuplexTesting
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

    /// The real clock, recording the deadlines it is asked to sleep until.
    struct RecordingClock: Clock {
        let base = ContinuousClock()
        let requested = Locked<[ContinuousClock.Instant]>([])
        var now: ContinuousClock.Instant { base.now }
        var minimumResolution: Duration { base.minimumResolution }
        func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
            requested.withLock { $0.append(deadline) }
            try await base.sleep(until: deadline, tolerance: tolerance)
        }
    }

    @Test func sleepingPacerKeepsRealTime() async throws {
        let clock = RecordingClock()
        var pacer = Pacer(clock: clock, interval: .milliseconds(10), lead: 0)
        let start = clock.now
        for _ in 0..<21 { try await pacer.waitForNextFrame() }
        let elapsed = start.duration(to: clock.now)
        // 20 intervals of 10 ms: never faster than real time.
        #expect(elapsed >= .milliseconds(200))
        // It sleeps until absolute deadlines 10 ms apart from its anchor (so a late wake-up
        // never shifts the next frame). How long the sleeps really take depends on the
        // machine's load (the suite runs inference beside it); `duplex bench tts` measures that.
        let requested = clock.requested.withLock { $0 }
        if let first = requested.first {
            let offsets = requested.map { first.duration(to: $0) }
            let expected = (0..<requested.count).map { Duration.milliseconds(10 * $0) }
            // A wake-up later than a whole interval restarts the schedule (an underrun): only
            // compare while none happened.
            if pacer.lateFrames == 0 { #expect(offsets == expected) }
        }
        #expect(!requested.isEmpty)
    }
}

/// Late-frame accounting: a frame handed out after a listener playing from the first frame ran
/// dry is late; on time (even at the last moment) is not; a pause is not lateness.
@Suite struct PacerLateFrameTests {
    typealias Instant = ManualClock.Instant
    let t0 = Instant(offset: .zero)
    func at(_ ms: Int) -> Instant { t0.advanced(by: .milliseconds(ms)) }

    @Test func aFrameAfterTheBufferRanDryIsCountedWithItsLateness() {
        var pacer = Pacer(clock: ManualClock(), interval: .milliseconds(20), lead: 3)
        // Frames 0…9 exactly on their deadlines (frame n is due at (n − 3) × 20 ms).
        for n in 0..<10 { _ = pacer.nextDeadline(now: at(max(0, (n - 3) * 20))) }
        // Frame 10 plays at 200 ms for a listener that started at 0: at 200 ms it is on time.
        _ = pacer.nextDeadline(now: at(200))
        #expect(pacer.lateFrames == 0)
        // Frame 11 plays at 220 ms; handed out at 270 ms it is 50 ms late.
        _ = pacer.nextDeadline(now: at(270))
        #expect(pacer.lateFrames == 1)
        #expect(pacer.maxLateness == .milliseconds(50))
        // The schedule restarted there: the next frames are on time again.
        for n in 1..<10 { _ = pacer.nextDeadline(now: at(270 + max(0, (n - 3) * 20))) }
        #expect(pacer.lateFrames == 1)
    }

    @Test func aPauseIsNotLateness() {
        var pacer = Pacer(clock: ManualClock(), interval: .milliseconds(20), lead: 3)
        for n in 0..<5 { _ = pacer.nextDeadline(now: at(max(0, (n - 3) * 20))) }
        pacer.reanchor()  // PAUSE … RESUME two seconds later
        _ = pacer.nextDeadline(now: at(2040))
        #expect(pacer.lateFrames == 0)
    }
}
