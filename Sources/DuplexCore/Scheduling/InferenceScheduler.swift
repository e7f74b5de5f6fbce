import Foundation
import Synchronization

/// The thread width a job was given: how many intra-op threads its inference call may use.
/// Adapters keep one model instance per width (onnxruntime fixes the thread count of a
/// session when it is created) and run the call on the matching one.
public struct InferenceLane: Sendable, Hashable {
    /// Threads the call may use (1 … the scheduler's thread budget).
    public var threads: Int
    /// Creates a lane.
    public init(threads: Int) { self.threads = threads }
}

/// How busy an ``InferenceScheduler`` is: the figures a worker reports in `GetCapabilities`
/// and its registry record, and from which it refuses sessions it could not serve in time.
public struct InferenceLoad: Sendable, Hashable {
    /// Jobs waiting (ready or held back).
    public var waiting = 0
    /// Paced jobs that may start now.
    public var ready = 0
    /// Calls running.
    public var running = 0
    /// Time left to the earliest waiting deadline (negative when overdue), if any job waits.
    public var earliestSlack: Duration?
    /// Share of the thread budget used over the last minute (0–1).
    public var busyFraction = 0.0
    /// Recent cost of a call running alone on every thread, in ms (moving average).
    public var wideCallMs = 0.0
    /// Recent cost of a call running on one thread, in ms (moving average).
    public var narrowCallMs = 0.0
    /// Predicted wait until a new reply's first clause is synthesized, in ms (its own call
    /// included: one call when idle).
    public var predictedFirstAudioMs = 0.0
    /// The part of that spent waiting for the jobs ahead of it, in ms (0 when idle): what the
    /// router compares, so identical idle workers tie and spread by session count.
    public var predictedWaitMs = 0.0

    /// An idle load (no scheduler, or nothing measured yet).
    public init() {}
}

/// Runs inference calls on dedicated threads in earliest-deadline-first order (see
/// ``DeadlineQueue`` for the policy), choosing each call's thread width from the queue.
///
/// Jobs wait in a bounded queue; when it is full, ``run(_:_:)`` fails fast with
/// ``DuplexError/Code/overloaded``. A job whose task is cancelled before it starts is
/// removed from the queue at once.
public final class InferenceScheduler: Sendable {
    private struct Job {
        var work: @Sendable (InferenceLane) -> Void
        var cancel: @Sendable () -> Void
        var measured: Bool
    }

    private enum JobAdmission { case queued, cancelled, full }

    private struct State {
        var queue: DeadlineQueue<ContinuousClock.Instant>
        var jobs: [UInt64: Job] = [:]
        /// Jobs whose task was cancelled before they were queued or while they ran.
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
        var shuttingDown = false
        var figures = CallFigures()
    }

    /// Moving averages of call cost and the busy record of the last minute.
    struct CallFigures {
        var wideMs = 0.0
        var narrowMs = 0.0
        /// (end, thread-seconds) of the calls of the last minute.
        var busy: [(end: ContinuousClock.Instant, threadSeconds: Double)] = []

        mutating func record(threads: Int, budget: Int, elapsed: Duration, end: ContinuousClock.Instant) {
            let ms = elapsed.millisecondsDouble
            if threads >= budget {
                wideMs = wideMs == 0 ? ms : wideMs * 0.8 + ms * 0.2
            } else {
                narrowMs = narrowMs == 0 ? ms : narrowMs * 0.8 + ms * 0.2
            }
            busy.append((end, ms / 1000 * Double(threads)))
            let horizon = end.advanced(by: .seconds(-60))
            if let first = busy.first, first.end < horizon { busy.removeAll { $0.end < horizon } }
        }
    }

    private let state: Mutex<State>
    private let condition = NSCondition()
    private let clock = ContinuousClock()
    /// The most jobs that may wait (not counting running ones).
    public let queueCapacity: Int
    /// Inference threads shared by all calls.
    public let threadBudget: Int
    /// A name for the threads, shown in debuggers and errors.
    public let name: String
    private let started: ContinuousClock.Instant

    /// Starts the scheduler's threads.
    /// - Parameters:
    ///   - threadBudget: inference threads (the cores given to inference).
    ///   - aheadWindow: how far ahead of its deadline a paced job may run (`worker.synthesis_ahead_ms`).
    ///   - width: how calls get their threads (``DeadlineQueue/Width``).
    public init(
        name: String, threadBudget: Int, aheadWindow: Duration, width: DeadlineQueue<ContinuousClock.Instant>.Width = .adaptive,
        queueCapacity: Int = 256
    ) {
        precondition(threadBudget >= 1)
        self.name = name
        self.threadBudget = threadBudget
        self.queueCapacity = queueCapacity
        self.state = Mutex(State(queue: DeadlineQueue(threadBudget: threadBudget, aheadWindow: aheadWindow, width: width)))
        self.started = ContinuousClock.now
        for index in 0..<threadBudget {
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body` on a scheduler thread when its turn comes and returns its result.
    /// - Parameters:
    ///   - urgency: when the result is needed.
    ///   - measured: false for work that is not an inference call (loading a model), which
    ///     then does not count in the call-cost figures.
    ///   - tenant: whose call it is (the client's API key), for fairness between keys.
    ///   - body: the call; its ``InferenceLane`` says how many threads it may use.
    public func run<T: Sendable>(
        _ urgency: InferenceUrgency, measured: Bool = true, tenant: String? = nil, _ body: @escaping @Sendable (InferenceLane) throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = Job(
                    work: { lane in continuation.resume(with: Result { try body(lane) }) },
                    cancel: { continuation.resume(throwing: CancellationError()) }, measured: measured)
                let admission: JobAdmission = state.withLock { s in
                    if s.cancelled.remove(id) != nil { return .cancelled }
                    guard !s.shuttingDown, s.queue.waitingCount < queueCapacity else { return .full }
                    s.jobs[id] = job
                    s.queue.enqueue(id: id, urgency: urgency, now: clock.now, tenant: tenant)
                    return .queued
                }
                switch admission {
                case .queued:
                    wake()
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .full:
                    continuation.resume(throwing: DuplexError(
                        .overloaded,
                        "The \(name) inference queue is full (\(queueCapacity) jobs waiting); try again shortly or add workers."))
                }
            }
        } onCancel: {
            // A job that has not started leaves the queue at once; a running call completes; one
            // not queued yet is refused when it arrives.
            let removed = state.withLock { s -> Job? in
                guard s.queue.remove(id: id) else {
                    if s.jobs[id] == nil { s.cancelled.insert(id) }
                    return nil
                }
                return s.jobs.removeValue(forKey: id)
            }
            removed?.cancel()
        }
    }

    /// The scheduler's current load.
    public var load: InferenceLoad {
        let now = clock.now
        return state.withLock { s in
            var load = InferenceLoad()
            load.waiting = s.queue.waitingCount
            load.ready = s.queue.readyCount(now: now)
            load.running = s.queue.runningCount
            load.earliestSlack = s.queue.earliestSlack(now: now)
            let window = min(60, max(1, started.duration(to: now).millisecondsDouble / 1000))
            load.busyFraction = min(1, s.figures.busy.reduce(0) { $0 + $1.threadSeconds } / (window * Double(threadBudget)))
            load.wideCallMs = s.figures.wideMs
            load.narrowCallMs = s.figures.narrowMs
            (load.predictedWaitMs, load.predictedFirstAudioMs) = Self.predictFirstAudio(
                ahead: load.ready, running: load.running, budget: threadBudget, wideMs: s.figures.wideMs, narrowMs: s.figures.narrowMs)
            return load
        }
    }

    /// The wait for a new first clause and its first audio: the ready jobs ahead of it and the
    /// running calls share the threads one call each, then it runs on one thread; alone, it
    /// runs wide at once. (Not measured yet: 0.)
    static func predictFirstAudio(ahead: Int, running: Int, budget: Int, wideMs: Double, narrowMs: Double) -> (wait: Double, firstAudio: Double) {
        let narrow = narrowMs > 0 ? narrowMs : wideMs * 1.6
        guard ahead + running > 0 else { return (0, wideMs) }
        let wait = Double(ahead + running) / Double(budget) * narrow
        return (wait, wait + narrow)
    }

    /// Stops the threads once the queued jobs are done.
    public func shutdown() {
        state.withLock { $0.shuttingDown = true }
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private func wake() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private enum Step {
        case run(UInt64, Job, InferenceLane)
        case wait(ContinuousClock.Instant?)
        case stop
    }

    private func workerLoop() {
        while true {
            condition.lock()
            var step = Step.wait(nil)
            while true {
                let now = clock.now
                step = state.withLock { s -> Step in
                    switch s.queue.next(now: now) {
                    case .run(let id, let threads):
                        guard let job = s.jobs.removeValue(forKey: id) else {
                            s.queue.finished(id: id)
                            return .wait(now)
                        }
                        return .run(id, job, InferenceLane(threads: threads))
                    case .wait(let until):
                        return s.shuttingDown && s.queue.waitingCount == 0 ? .stop : .wait(until)
                    case .idle:
                        return s.shuttingDown && s.queue.waitingCount == 0 && s.queue.runningCount == 0 ? .stop : .wait(nil)
                    }
                }
                guard case .wait(let until) = step else { break }
                if let until {
                    let seconds = now.duration(to: until).millisecondsDouble / 1000
                    if seconds > 0 { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
                } else {
                    condition.wait()
                }
            }
            condition.unlock()
            guard case .run(let id, let job, let lane) = step else { return }
            let start = clock.now
            job.work(lane)
            let end = clock.now
            state.withLock { s in
                s.queue.finished(id: id)
                s.cancelled.remove(id)
                if job.measured {
                    s.figures.record(threads: lane.threads, budget: threadBudget, elapsed: start.duration(to: end), end: end)
                }
            }
            wake()
        }
    }
}
