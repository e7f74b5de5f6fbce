import Synchronization

/// Runs `body` but returns after `timeout` at the latest, even if `body` ignores
/// cancellation: on timeout the body's task is cancelled and abandoned (not awaited), and
/// `timeoutError()` is thrown. Use it around calls into libraries that can hold a call
/// forever in rare states (e.g. an RPC issued on a client that is shutting down).
public func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> T,
    timeoutError: @escaping @Sendable () -> any Error
) async throws -> T {
    let outcome = FirstOutcome<T>()
    let work = Task {
        do { outcome.deliver(.success(try await body())) } catch { outcome.deliver(.failure(error)) }
    }
    let timer = Task {
        try? await Task.sleep(for: timeout)
        outcome.deliver(.failure(timeoutError()))
        work.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await outcome.value()
    } onCancel: {
        work.cancel()
    }
}

/// The first result delivered wins; later ones are ignored.
private final class FirstOutcome<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<T, any Error>?
    }
    private let state = Mutex(State())

    func deliver(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { s in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { s in
                if let result = s.result { return result }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
