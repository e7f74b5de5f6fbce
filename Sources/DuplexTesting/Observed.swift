import Synchronization

/// A value that tests wait on without polling: ``wait(until:)`` suspends until an
/// ``update(_:)`` makes the condition true (re-checked on every update).
public final class Observed<Value: Sendable>: Sendable {
    private struct Waiter {
        var predicate: @Sendable (Value) -> Bool
        var continuation: CheckedContinuation<Value?, Never>
    }

    private struct State {
        var value: Value
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Creates the value.
    public init(_ value: Value) {
        state = Mutex(State(value: value))
    }

    /// The current value.
    public var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes the waiters whose condition now holds.
    @discardableResult
    public func update<R>(_ body: (inout Value) -> R) -> R {
        let (result, ready): (R, [(CheckedContinuation<Value?, Never>, Value)]) = state.withLock { s in
            let result = body(&s.value)
            var ready: [(CheckedContinuation<Value?, Never>, Value)] = []
            for (id, waiter) in s.waiters where waiter.predicate(s.value) {
                ready.append((waiter.continuation, s.value))
                s.waiters.removeValue(forKey: id)
            }
            return (result, ready)
        }
        for (continuation, value) in ready { continuation.resume(returning: value) }
        return result
    }

    /// Waits until `predicate` holds and returns the value then; nil if the task is cancelled.
    @discardableResult
    public func wait(until predicate: @escaping @Sendable (Value) -> Bool) async -> Value? {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let now: Value?? = state.withLock { s in
                    if predicate(s.value) { return .some(s.value) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                    return .none
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: nil)
        }
    }
}
