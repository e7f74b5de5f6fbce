/// How soon an inference job's result is needed.
public enum InferenceUrgency: Sendable, Hashable {
    /// A listener is playing this session in real time: its audio must start within `slack`
    /// (zero for a reply's first clause; for later clauses, the audio already synthesized and
    /// not yet played, minus a safety margin).
    case paced(slack: Duration)
    /// Nobody is waiting in real time (`pacing: false`: files, batch jobs): run only when no
    /// paced job is ready, so it never delays a real-time session.
    case unpaced

    /// A job needed now (a reply's first clause, a warmup).
    public static let now = InferenceUrgency.paced(slack: .zero)
}

/// The inference scheduler's decisions, as a pure state machine over an injected time
/// (``InferenceScheduler`` drives it with real threads; tests drive it with a scripted clock).
///
/// - **Earliest deadline first**: of the paced jobs whose deadline is within `aheadWindow`,
///   the one with the earliest deadline runs (ties in arrival order).
/// - **Far deadlines wait**: a paced job due later than `aheadWindow` from now is held until
///   it comes within the window, so work far ahead of playback never occupies the cores a
///   new reply's first clause will need (an ONNX call cannot be preempted).
/// - **Unpaced last**: unpaced jobs run (in arrival order) only when no paced job is ready.
/// - **Adaptive width**: the executor has `threadBudget` inference threads. A job that runs
///   alone gets all of them (one wide call has the lowest latency); when several jobs are
///   ready, or another call is already running, each runs on one thread (several narrow
///   calls have the higher throughput). An unpaced job runs wide only when no paced job is
///   queued or running. ``Width/wide`` and ``Width/narrow`` fix the width instead (for
///   comparison: `wide` runs one call at a time on every thread).
/// - **Fair between tenants when late**: among ready jobs already past their deadline (a
///   reply's first clause is due at once), the tenant with the fewest calls running goes
///   first, then the one that started a call least recently; so one API key that floods a
///   worker with replies cannot make another key's first clause wait behind all of them.
///   Within a tenant, and for jobs not yet due, earliest deadline first.
public struct DeadlineQueue<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// A waiting job.
    public struct Entry: Sendable, Equatable {
        /// The job's id (unique per queue).
        public var id: UInt64
        /// When its audio must start (nil for unpaced jobs).
        public var deadline: Instant?
        /// When it was queued.
        public var enqueued: Instant
        /// Whose job it is (the client's API key, from `duplex-tenant`); nil: nobody's in
        /// particular (one group of its own).
        public var tenant: String? = nil
    }

    /// What the executor should do next.
    public enum Decision: Sendable, Equatable {
        /// Start job `id` on `threads` inference threads.
        case run(id: UInt64, threads: Int)
        /// Nothing may start before `until` (a held job comes due then), unless something changes.
        case wait(until: Instant)
        /// Nothing to start until a job arrives or a running one finishes.
        case idle
    }

    /// How many threads a call gets.
    public enum Width: String, Sendable, CaseIterable {
        /// All of them when the call runs alone, one each when several are ready.
        case adaptive
        /// Always all of them: one call at a time.
        case wide
        /// Always one.
        case narrow
    }

    /// Inference threads shared by all calls.
    public let threadBudget: Int
    /// How far ahead of its deadline a paced job may start.
    public let aheadWindow: Duration
    /// How calls get their threads.
    public let width: Width
    private var paced: [Entry] = []
    private var unpaced: [Entry] = []
    private var running: [UInt64: (threads: Int, paced: Bool, tenant: String?)] = [:]
    /// The sequence number of each tenant's last started call (round robin among equals).
    private var lastStart: [String: UInt64] = [:]
    private var starts: UInt64 = 0

    /// Creates an empty queue.
    public init(threadBudget: Int, aheadWindow: Duration, width: Width = .adaptive) {
        precondition(threadBudget >= 1)
        self.threadBudget = threadBudget
        self.aheadWindow = aheadWindow
        self.width = width
    }

    /// Jobs waiting (held or ready).
    public var waitingCount: Int { paced.count + unpaced.count }
    /// Jobs running.
    public var runningCount: Int { running.count }
    /// Threads in use by running jobs.
    public var threadsInUse: Int { running.values.reduce(0) { $0 + $1.threads } }

    /// Queues a job.
    /// - Parameter tenant: whose job it is (fairness between API keys); nil for none.
    public mutating func enqueue(id: UInt64, urgency: InferenceUrgency, now: Instant, tenant: String? = nil) {
        switch urgency {
        case .paced(let slack): paced.append(Entry(id: id, deadline: now.advanced(by: max(slack, .zero)), enqueued: now, tenant: tenant))
        case .unpaced: unpaced.append(Entry(id: id, deadline: nil, enqueued: now, tenant: tenant))
        }
    }

    /// Removes a job that has not started (its caller went away). Returns false if it is not waiting.
    @discardableResult
    public mutating func remove(id: UInt64) -> Bool {
        if let index = paced.firstIndex(where: { $0.id == id }) {
            paced.remove(at: index)
            return true
        }
        if let index = unpaced.firstIndex(where: { $0.id == id }) {
            unpaced.remove(at: index)
            return true
        }
        return false
    }

    /// Marks a running job as finished, freeing its threads.
    public mutating func finished(id: UInt64) {
        running.removeValue(forKey: id)
    }

    /// The earliest deadline among waiting paced jobs minus `now` (negative when overdue).
    public func earliestSlack(now: Instant) -> Duration? {
        paced.compactMap(\.deadline).min().map { now.duration(to: $0) }
    }

    /// Paced jobs that may start now (deadline within the ahead window).
    public func readyCount(now: Instant) -> Int {
        paced.filter { isReady($0, now: now) }.count
    }

    /// Decides what to start next and, for `.run`, moves the job to running.
    public mutating func next(now: Instant) -> Decision {
        let free = threadBudget - threadsInUse
        guard free >= 1, width != .wide || free == threadBudget else { return .idle }
        let ready = paced.indices.filter { isReady(paced[$0], now: now) }
        let late = ready.filter { paced[$0].deadline.map { $0 <= now } ?? false }
        let pick = late.count > 1 ? fairest(late) : ready.min(by: { earlier(paced[$0], paced[$1]) })
        if let index = pick {
            // Alone (nothing else ready, nothing running): wide. Otherwise one thread each.
            let alone = ready.count == 1 && running.isEmpty
            return start(paced.remove(at: index), threads: threads(alone: alone, free: free), isPaced: true)
        }
        if !unpaced.isEmpty {
            let pacedActive = !paced.isEmpty || running.values.contains { $0.paced }
            let alone = !pacedActive && running.isEmpty && unpaced.count == 1
            return start(unpaced.removeFirst(), threads: threads(alone: alone, free: free), isPaced: false)
        }
        if let due = paced.compactMap(\.deadline).min() {
            return .wait(until: due.advanced(by: .zero - aheadWindow))
        }
        return .idle
    }

    /// Of late jobs: the tenant with the fewest running calls, then the least recently
    /// served, then the earliest deadline.
    private func fairest(_ indices: [Int]) -> Int? {
        var runningByTenant: [String: Int] = [:]
        for job in running.values { runningByTenant[job.tenant ?? "", default: 0] += 1 }
        func rank(_ entry: Entry) -> (Int, UInt64) {
            let tenant = entry.tenant ?? ""
            return (runningByTenant[tenant] ?? 0, lastStart[tenant] ?? 0)
        }
        return indices.min { a, b in
            let (ra, rb) = (rank(paced[a]), rank(paced[b]))
            return ra != rb ? ra < rb : earlier(paced[a], paced[b])
        }
    }

    private func threads(alone: Bool, free: Int) -> Int {
        switch width {
        case .adaptive: alone ? free : 1
        case .wide: threadBudget
        case .narrow: 1
        }
    }

    private func isReady(_ entry: Entry, now: Instant) -> Bool {
        guard let deadline = entry.deadline else { return false }
        return now.duration(to: deadline) <= aheadWindow
    }

    private func earlier(_ a: Entry, _ b: Entry) -> Bool {
        guard let da = a.deadline, let db = b.deadline else { return false }
        return da != db ? da < db : a.enqueued < b.enqueued || (a.enqueued == b.enqueued && a.id < b.id)
    }

    private mutating func start(_ entry: Entry, threads: Int, isPaced: Bool) -> Decision {
        running[entry.id] = (threads, isPaced, entry.tenant)
        starts += 1
        lastStart[entry.tenant ?? ""] = starts
        if lastStart.count > 4096 {
            // Forget tenants with nothing queued or running (workers take any tenant name).
            let active = Set(paced.map { $0.tenant ?? "" } + unpaced.map { $0.tenant ?? "" } + running.values.map { $0.tenant ?? "" })
            lastStart = lastStart.filter { active.contains($0.key) }
        }
        return .run(id: entry.id, threads: threads)
    }
}
