import Foundation
import Synchronization

/// Runs blocking work (model inference, C libraries that are not thread-safe) on
/// dedicated threads so it never blocks Swift's cooperative thread pool or an event loop.
///
/// Jobs wait in a bounded queue; when it is full, ``run(_:)`` fails fast with
/// ``DuplexError/Code/overloaded`` instead of queueing without bound. A job that was
/// cancelled before it started is skipped.
///
/// With one thread the executor also serializes every job, which is how Duplex guards
/// libraries with global state such as espeak-ng.
///
/// Jobs run in FIFO order. (Model inference that must meet playback deadlines runs on an
/// ``InferenceScheduler`` instead.)
public final class BlockingExecutor: Sendable {
    private struct Job {
        var work: @Sendable () -> Void
        var cancelled: @Sendable () -> Bool
        var skip: @Sendable () -> Void
    }

    private struct State {
        var jobs: [Job] = []
        var shuttingDown = false
        var count: Int { jobs.count }
        mutating func next() -> Job? { jobs.isEmpty ? nil : jobs.removeFirst() }
    }

    private let state = Mutex(State())
    private let condition = NSCondition()
    /// The most jobs that may wait (not counting the running ones).
    public let queueCapacity: Int
    /// A name for the threads, shown in debuggers.
    public let name: String

    /// Starts `threads` dedicated threads.
    public init(name: String, threads: Int, queueCapacity: Int = 64) {
        precondition(threads >= 1)
        self.name = name
        self.queueCapacity = queueCapacity
        for index in 0..<threads {
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// The number of jobs waiting to run.
    public var queueDepth: Int { state.withLock { $0.count } }

    /// Runs `body` on one of the executor's threads and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = Job(
                    work: { continuation.resume(with: Result { try body() }) },
                    cancelled: { flag.isCancelled },
                    skip: { continuation.resume(throwing: CancellationError()) })
                let accepted: Bool = state.withLock { s in
                    guard !s.shuttingDown, s.count < queueCapacity else { return false }
                    s.jobs.append(job)
                    return true
                }
                if accepted {
                    condition.lock()
                    condition.signal()
                    condition.unlock()
                } else {
                    continuation.resume(throwing: DuplexError(
                        .overloaded,
                        "The \(name) queue is full (\(queueCapacity) jobs waiting); try again shortly or add workers."))
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Queues `body` without waiting for it. The job belongs to the executor (it runs on its
    /// thread even if the caller moves on); the caller keeps only what the job delivers, such
    /// as an ``AsyncPromise`` it fulfills, and polls that.
    /// - Returns: false when the queue is full or shutting down (the job is dropped).
    public func submit(_ body: @escaping @Sendable () -> Void) -> Bool {
        let job = Job(work: body, cancelled: { false }, skip: {})
        let accepted: Bool = state.withLock { s in
            guard !s.shuttingDown, s.count < queueCapacity else { return false }
            s.jobs.append(job)
            return true
        }
        guard accepted else { return false }
        condition.lock()
        condition.signal()
        condition.unlock()
        return true
    }

    /// Stops the threads once the queued jobs are done.
    public func shutdown() {
        state.withLock { $0.shuttingDown = true }
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private func workerLoop() {
        while true {
            condition.lock()
            var job: Job?
            var stop = false
            while job == nil, !stop {
                (job, stop) = state.withLock { s -> (Job?, Bool) in
                    if let next = s.next() { return (next, false) }
                    return (nil, s.shuttingDown)
                }
                if job == nil, !stop { condition.wait() }
            }
            condition.unlock()
            guard let job else { return }
            if job.cancelled() { job.skip() } else { job.work() }
        }
    }
}

/// A thread-safe one-way flag.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isCancelled: Bool { flag.load(ordering: .acquiring) }
    func cancel() { flag.store(true, ordering: .releasing) }
}
