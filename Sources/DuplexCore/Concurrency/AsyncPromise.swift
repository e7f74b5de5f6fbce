import Synchronization

/// A value delivered once, awaited by any number of tasks.
///
/// The first ``fulfill(_:)`` wins; later ones are ignored. ``value()`` returns the value, or
/// nil if the waiting task is cancelled first, so a waiter never outlives its task.
///
/// ```swift
/// let answer = AsyncPromise<Int>()
/// async let got = answer.value()   // suspends
/// answer.fulfill(42)
/// await got                        // 42
/// ```
public final class AsyncPromise<Value: Sendable>: Sendable {
    private enum State {
        case waiting([UInt64: CheckedContinuation<Value?, Never>])
        case fulfilled(Value)
    }

    private let state = Mutex<State>(.waiting([:]))
    private let nextID = Atomic<UInt64>(0)

    /// Creates an unfulfilled promise.
    public init() {}

    /// Delivers the value to every waiter, present and future. Returns false if the promise
    /// was already fulfilled (the value is then ignored).
    @discardableResult
    public func fulfill(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value?, Never>]? = state.withLock { s in
            guard case .waiting(let waiters) = s else { return nil }
            s = .fulfilled(value)
            return Array(waiters.values)
        }
        waiters?.forEach { $0.resume(returning: value) }
        return waiters != nil
    }

    /// The value if it was delivered.
    public var current: Value? {
        state.withLock { s in
            if case .fulfilled(let value) = s { return value }
            return nil
        }
    }

    /// Waits for the value; nil if the calling task is cancelled before it arrives.
    public func value() async -> Value? {
        if let value = current { return value }
        let id = nextID.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let ready: Value?? = state.withLock { s in
                    switch s {
                    case .fulfilled(let value): return .some(value)
                    case .waiting(var waiters):
                        if Task.isCancelled { return .some(nil) }
                        waiters[id] = continuation
                        s = .waiting(waiters)
                        return .none
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Value?, Never>? = state.withLock { s in
                guard case .waiting(var waiters) = s, let waiter = waiters.removeValue(forKey: id) else { return nil }
                s = .waiting(waiters)
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// A one-shot signal: ``fire()`` once; ``wait()`` returns once it fired (or when the waiting
/// task is cancelled). Used to cancel one piece of work inside a task group.
public final class AsyncSignal: Sendable {
    private let promise = AsyncPromise<Void>()

    /// Creates an unfired signal.
    public init() {}

    /// Fires the signal (idempotent).
    public func fire() { promise.fulfill(()) }

    /// Whether the signal fired.
    public var isFired: Bool { promise.current != nil }

    /// Returns once the signal fired, or when the calling task is cancelled.
    public func wait() async { _ = await promise.value() }
}

/// Runs `work` until it finishes or `signal` fires, whichever comes first; when the signal
/// fires, `work`'s task is cancelled and awaited. Returns `work`'s result, or nil if it was
/// cut short by the signal.
public func withCancellation<T: Sendable>(
    on signal: AsyncSignal, _ work: @escaping @Sendable () async -> T
) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await work() }
        group.addTask {
            await signal.wait()
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
