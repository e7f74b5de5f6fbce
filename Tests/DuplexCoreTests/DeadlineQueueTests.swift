import DuplexCore
import DuplexTesting
import Testing

extension DeadlineQueue {
    /// `next(now:)` for use inside `#expect` (which cannot call a mutating method).
    fileprivate func decide(_ now: Instant) -> Decision {
        var copy = self
        return copy.next(now: now)
    }
}

/// The inference scheduler's policy, driven with a scripted clock and scripted call costs.
@Suite struct DeadlineQueueTests {
    typealias Instant = ManualClock.Instant
    let t0 = Instant(offset: .zero)

    func ms(_ value: Int) -> Duration { .milliseconds(value) }
    func at(_ value: Int) -> Instant { t0.advanced(by: .milliseconds(value)) }

    @Test func theEarliestDeadlineRunsFirstAndTiesKeepArrivalOrder() {
        var queue = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(1000))
        queue.enqueue(id: 1, urgency: .paced(slack: ms(300)), now: t0)
        queue.enqueue(id: 2, urgency: .paced(slack: ms(100)), now: t0)
        queue.enqueue(id: 3, urgency: .paced(slack: ms(200)), now: t0)
        queue.enqueue(id: 4, urgency: .paced(slack: ms(100)), now: t0)
        var order: [UInt64] = []
        while case .run(let id, _) = queue.next(now: t0) {
            order.append(id)
            queue.finished(id: id)
        }
        #expect(order == [2, 4, 3, 1])
    }

    @Test func aJobDueFarAheadWaitsUntilItComesWithinTheWindow() {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000))
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .paced(slack: ms(3000)), now: t0)
        decision = queue.next(now: t0)
        #expect(decision == .wait(until: at(2000)))
        #expect(queue.decide(at(1999)) == .wait(until: at(2000)))
        decision = queue.next(now: at(2000))
        #expect(decision == .run(id: 1, threads: 2))
    }

    @Test func aNewReplysFirstClauseOvertakesWorkAheadOfPlayback() {
        var queue = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(1500))
        var decision: DeadlineQueue<Instant>.Decision
        // Three sessions' later clauses, due within the window but not now.
        for id in UInt64(1)...3 { queue.enqueue(id: id, urgency: .paced(slack: ms(400 * Int(id))), now: t0) }
        queue.enqueue(id: 9, urgency: .now, now: at(5))
        decision = queue.next(now: at(5))
        #expect(decision == .run(id: 9, threads: 1))
    }

    @Test func unpacedJobsNeverRunAheadOfAReadyPacedJob() {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000))
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .unpaced, now: t0)
        queue.enqueue(id: 2, urgency: .unpaced, now: t0)
        queue.enqueue(id: 3, urgency: .paced(slack: ms(900)), now: at(1))
        // The paced job is ready (within the window): it goes first, alone on every thread.
        decision = queue.next(now: at(1))
        #expect(decision == .run(id: 3, threads: 2))
        #expect(queue.decide(at(1)) == .idle)
        queue.finished(id: 3)
        // Two paced jobs arrive while unpaced work waits: both run before it, one thread each.
        queue.enqueue(id: 4, urgency: .paced(slack: ms(500)), now: at(2))
        queue.enqueue(id: 5, urgency: .now, now: at(2))
        decision = queue.next(now: at(2))
        #expect(decision == .run(id: 5, threads: 1))
        decision = queue.next(now: at(2))
        #expect(decision == .run(id: 4, threads: 1))
        queue.finished(id: 4)
        // A paced job still runs: the unpaced one takes the free thread, not more.
        decision = queue.next(now: at(3))
        #expect(decision == .run(id: 1, threads: 1))
        queue.finished(id: 5)
        queue.finished(id: 1)
        #expect(queue.decide(at(4)) == .run(id: 2, threads: 2))  // alone now: every thread
    }

    @Test func unpacedWorkRunsWhileRealTimeWorkIsHeldButOnOneThread() {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000))
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .paced(slack: ms(5000)), now: t0)
        queue.enqueue(id: 2, urgency: .unpaced, now: t0)
        // The paced job is held; the unpaced one may use one thread, keeping one free for
        // a first clause that may arrive.
        decision = queue.next(now: t0)
        #expect(decision == .run(id: 2, threads: 1))
        #expect(queue.decide(t0) == .wait(until: at(4000)))
    }

    @Test func widthAdaptsAloneWideSeveralNarrow() {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000))
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .now, now: t0)
        decision = queue.next(now: t0)
        #expect(decision == .run(id: 1, threads: 2))
        queue.enqueue(id: 2, urgency: .now, now: t0)
        #expect(queue.decide(t0) == .idle)  // the wide call holds every thread
        queue.finished(id: 1)
        queue.enqueue(id: 3, urgency: .now, now: t0)
        decision = queue.next(now: t0)
        #expect(decision == .run(id: 2, threads: 1))
        decision = queue.next(now: t0)
        #expect(decision == .run(id: 3, threads: 1))
        #expect(queue.threadsInUse == 2)
        queue.finished(id: 2)
        queue.enqueue(id: 4, urgency: .now, now: t0)
        // Alone in the queue but another call runs: one thread (the free one).
        decision = queue.next(now: t0)
        #expect(decision == .run(id: 4, threads: 1))
    }

    @Test(arguments: [DeadlineQueue<ManualClock.Instant>.Width.wide, .narrow])
    func fixedWidths(width: DeadlineQueue<Instant>.Width) {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000), width: width)
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .now, now: t0)
        queue.enqueue(id: 2, urgency: .now, now: t0)
        switch width {
        case .wide:
            decision = queue.next(now: t0)
            #expect(decision == .run(id: 1, threads: 2))
            #expect(queue.decide(t0) == .idle)
        default:
            decision = queue.next(now: t0)
            #expect(decision == .run(id: 1, threads: 1))
            #expect(queue.decide(t0) == .run(id: 2, threads: 1))
        }
    }

    @Test func aCancelledJobLeavesTheQueue() {
        var queue = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(1000))
        var decision: DeadlineQueue<Instant>.Decision
        queue.enqueue(id: 1, urgency: .paced(slack: ms(5000)), now: t0)
        queue.enqueue(id: 2, urgency: .unpaced, now: t0)
        let removed = [queue.remove(id: 1), queue.remove(id: 2), queue.remove(id: 2)]
        #expect(removed == [true, true, false])
        #expect(queue.waitingCount == 0)
        decision = queue.next(now: t0)
        #expect(decision == .idle)
    }

    @Test func slackAndReadinessAreReported() {
        var queue = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(500))
        queue.enqueue(id: 1, urgency: .paced(slack: ms(200)), now: t0)
        queue.enqueue(id: 2, urgency: .paced(slack: ms(2000)), now: t0)
        #expect(queue.earliestSlack(now: at(50)) == ms(150))
        #expect(queue.earliestSlack(now: at(300)) == ms(-100))
        #expect(queue.readyCount(now: t0) == 1)
        #expect(queue.readyCount(now: at(1500)) == 2)
    }

    // MARK: Simulation with scripted costs

    /// Scripted call cost: a fixed part plus a part per ms of audio, as `duplex bench segments`
    /// measured the joe voice on a 2-core machine (15 ms + 4.7% of the audio on two threads,
    /// 15 ms + 8.1% on one; two one-thread calls at once each take what one alone takes, so
    /// they do ~1.2× the work of one two-thread call).
    struct Costs {
        var wide: (fixed: Int, perAudio: Double) = (15, 0.047)
        var narrow: (fixed: Int, perAudio: Double) = (15, 0.081)
        func cost(audioMs: Int, threads: Int) -> Int {
            let c = threads >= 2 ? wide : narrow
            return c.fixed + Int((Double(audioMs) * c.perAudio).rounded())
        }
    }

    /// A discrete-event simulation: every session speaks `clauses` (audio ms each), starting
    /// at `starts[i]`; returns each session's first-audio wait and the clauses that were not
    /// ready when the previous one finished playing.
    func simulate(
        starts: [Int], clauses: [Int], width: DeadlineQueue<Instant>.Width, costs: Costs = Costs(), aheadMs: Int = 1500,
        marginMs: Int = 200
    ) -> (firstAudio: [Int], late: Int) {
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(aheadMs), width: width)
        struct SessionState { var produced = 0; var playEnd: Int?; var firstAudio: Int? }
        var state = Array(repeating: SessionState(), count: starts.count)
        var running: [(id: UInt64, ends: Int)] = []
        var pendingStarts = Array(starts.enumerated())
        var late = 0
        var now = 0
        func enqueue(_ session: Int) {
            let s = state[session]
            let slack = s.produced == 0 ? 0 : max(0, (s.playEnd ?? now) - now - marginMs)
            queue.enqueue(id: UInt64(session), urgency: .paced(slack: ms(slack)), now: at(now))
        }
        func milliseconds(_ instant: Instant) -> Int {
            Int(instant.offset.components.seconds * 1000 + instant.offset.components.attoseconds / 1_000_000_000_000_000)
        }
        while now < 600_000 {
            for (session, start) in pendingStarts where start == now { enqueue(session) }
            pendingStarts.removeAll { $0.element == now }
            var waitUntil: Int?
            loop: while true {
                switch queue.next(now: at(now)) {
                case .run(let id, let threads):
                    let audio = clauses[state[Int(id)].produced]
                    running.append((id, now + costs.cost(audioMs: audio, threads: threads)))
                case .wait(let until):
                    waitUntil = milliseconds(until)
                    break loop
                case .idle:
                    break loop
                }
            }
            let events = running.map(\.ends) + pendingStarts.map(\.element) + (waitUntil.map { [$0] } ?? [])
            guard let next = events.min() else { break }
            now = next
            for job in running where job.ends == now {
                let session = Int(job.id)
                queue.finished(id: job.id)
                var s = state[session]
                if s.firstAudio == nil { s.firstAudio = now - starts[session] }
                // This clause plays when the previous one ends, or now if that already ran out.
                if let end = s.playEnd, end < now { late += 1 }
                s.playEnd = max(s.playEnd ?? now, now) + clauses[s.produced]
                s.produced += 1
                state[session] = s
                if s.produced < clauses.count { enqueue(session) }
            }
            running.removeAll { $0.ends == now }
        }
        return (state.compactMap(\.firstAudio).sorted(), late)
    }

    /// A reply as the segmenter cuts one: 3 words for fast first audio, then 5, then the
    /// rest of the sentence, then sentences (audio ms).
    let reply = [900, 1500, 2300, 3500, 3000]

    @Test func twelveStaggeredRepliesOnTwoThreadsPlayWithoutAGap() {
        // Conversation-like: replies start 150 ms apart.
        let edf = simulate(starts: (0..<12).map { $0 * 150 }, clauses: reply, width: .adaptive)
        #expect(edf.late == 0)
        #expect(edf.firstAudio.count == 12)
        #expect(edf.firstAudio.max()! <= 250)
    }

    @Test func withoutDeadlinesTheSameLoadRunsLate() {
        // The same load with every job "now" (FIFO) and one call at a time, as before.
        var costs = Costs()
        costs.narrow = costs.wide
        let fifo = simulate(starts: (0..<12).map { $0 * 150 }, clauses: reply, width: .wide, costs: costs, aheadMs: 0, marginMs: 100_000)
        #expect(fifo.late > 0)
    }

    @Test func eightSimultaneousFirstClausesShareTheThreadsOneEach() {
        let adaptive = simulate(starts: Array(repeating: 0, count: 8), clauses: reply, width: .adaptive)
        let wide = simulate(starts: Array(repeating: 0, count: 8), clauses: reply, width: .wide)
        // Two at a time on one thread each (4 rounds of 88 ms) beat one at a time on every
        // thread (8 rounds of 57 ms); nothing runs late either way.
        #expect(adaptive.firstAudio.last == 4 * 88)
        #expect(wide.firstAudio.last == 8 * 57)
        #expect(adaptive.late == 0)
    }

    @Test func workFarAheadIsHeldSoANewReplyIsNotQueuedBehindIt() {
        // One session is mid-reply with long clauses; a second reply starts at 700 ms, while
        // (without the window) the first session's fourth clause would be synthesizing.
        let clauses = [900, 6000, 6000, 6000]
        let held = simulate(starts: [0, 700], clauses: clauses, width: .adaptive, aheadMs: 1500)
        let unheld = simulate(starts: [0, 700], clauses: clauses, width: .adaptive, aheadMs: 60_000)
        #expect(held.late == 0 && unheld.late == 0)
        #expect(held.firstAudio == [57, 57])
        #expect(unheld.firstAudio.max()! > 57)
    }

    @Test func oneKeysFloodOfFirstClausesDoesNotMakeAnotherKeyWaitBehindAllOfIt() {
        // Key A asks for eight replies at once; key B's one arrives a moment later. On two
        // threads, B's first clause runs as soon as a thread frees, not ninth.
        var queue = DeadlineQueue<Instant>(threadBudget: 2, aheadWindow: ms(1000))
        for id in UInt64(1)...8 { queue.enqueue(id: id, urgency: .now, now: t0, tenant: "key-a") }
        queue.enqueue(id: 9, urgency: .now, now: at(1), tenant: "key-b")
        var order: [UInt64] = []
        var now = at(2)
        var runningIDs: [UInt64] = []
        while true {
            while case .run(let id, _) = queue.next(now: now) {
                order.append(id)
                runningIDs.append(id)
            }
            guard !runningIDs.isEmpty else { break }
            // Calls finish in start order, 100 ms each.
            now = now.advanced(by: ms(100))
            queue.finished(id: runningIDs.removeFirst())
        }
        #expect(order.count == 9)
        #expect(order.firstIndex(of: 9) == 1)  // B ran beside A's first call
        #expect(order.filter { $0 != 9 } == Array(1...8))  // A's own replies keep their order
    }

    @Test func lateJobsAlternateBetweenTenantsAndUntenantedWorkKeepsEarliestDeadlineFirst() {
        var queue = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(1000))
        for id in UInt64(1)...3 { queue.enqueue(id: id, urgency: .now, now: t0, tenant: "key-a") }
        for id in UInt64(4)...6 { queue.enqueue(id: id, urgency: .now, now: at(1), tenant: "key-b") }
        var order: [UInt64] = []
        while case .run(let id, _) = queue.next(now: at(5)) {
            order.append(id)
            queue.finished(id: id)
        }
        #expect(order == [1, 4, 2, 5, 3, 6])
        // Without tenants (one key, or none configured): plain earliest deadline first.
        var plain = DeadlineQueue<Instant>(threadBudget: 1, aheadWindow: ms(1000))
        for id in UInt64(1)...3 { plain.enqueue(id: id, urgency: .now, now: at(Int(id))) }
        plain.enqueue(id: 4, urgency: .paced(slack: ms(500)), now: t0)
        var plainOrder: [UInt64] = []
        while case .run(let id, _) = plain.next(now: at(10)) {
            plainOrder.append(id)
            plain.finished(id: id)
        }
        #expect(plainOrder == [1, 2, 3, 4])
    }
}
