import Logging
import NIOCore
import Synchronization

/// One place in the client's pool: holds at most one connection, opens it on first use, and
/// re-opens it with exponential backoff after it closed (e.g. the server restarted).
///
/// Concurrent callers share one connect attempt (an `EventLoopFuture`), so a burst of commands
/// against a cold slot opens one connection, not one per command.
final class ConnectionSlot: Sendable {
    private enum State {
        /// No connection. `failures` consecutive connect attempts failed; no new attempt before `retryAt`.
        case idle(failures: Int, retryAt: ContinuousClock.Instant?)
        case connecting(EventLoopFuture<RedisConnection>, failures: Int)
        case connected(RedisConnection)
        case closed
    }

    private enum Action {
        case use(RedisConnection)
        case await(EventLoopFuture<RedisConnection>)
        case connect(EventLoopPromise<RedisConnection>)
        case wait(until: ContinuousClock.Instant)
        case fail(RedisError)
    }

    private let configuration: RedisConfiguration
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state = Mutex<State>(.idle(failures: 0, retryAt: nil))
    /// Commands currently using this slot; the client prefers idle slots.
    let inFlight = Atomic<Int>(0)

    init(configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Whether the slot holds an open connection right now.
    var isConnected: Bool {
        state.withLock { state in
            if case .connected(let connection) = state { return connection.isActive }
            return false
        }
    }

    /// Returns an open connection, connecting (and retrying with backoff) until `deadline`.
    func connection(deadline: ContinuousClock.Instant) async throws(RedisError) -> RedisConnection {
        var lastError: RedisError?
        while true {
            guard !Task.isCancelled else {
                throw RedisError(.cancelled, "The task was cancelled while waiting for a Redis connection.")
            }
            switch nextAction() {
            case .use(let connection):
                return connection
            case .fail(let error):
                throw error
            case .connect(let promise):
                RedisConnection.make(configuration: configuration, eventLoop: eventLoop).cascade(to: promise)
                continue
            case .await(let future):
                do {
                    return try await RedisConnection.awaitFuture(future)
                } catch {
                    // Wrong credentials or database: retrying within this call cannot help.
                    if error.code == .authenticationFailed || error.code == .serverError { throw error }
                    lastError = error
                    if ContinuousClock.now >= deadline { throw error }
                }
            case .wait(let retryAt):
                guard retryAt <= deadline else {
                    throw lastError ?? RedisError(
                        .connectionFailed,
                        "Redis at \(configuration.host):\(configuration.port) is unreachable; the client keeps retrying with backoff.")
                }
                do {
                    try await Task.sleep(until: retryAt, clock: .continuous)
                } catch {
                    throw RedisError(.cancelled, "The task was cancelled while waiting to reconnect to Redis.")
                }
            }
        }
    }

    private func nextAction() -> Action {
        state.withLock { state -> Action in
            var failures = 0
            switch state {
            case .closed:
                return .fail(.clientClosed)
            case .connected(let connection):
                if connection.isActive { return .use(connection) }
                logger.debug("Redis connection closed; reconnecting", metadata: ["redis.endpoint": "\(configuration.host):\(configuration.port)"])
            case .connecting(let future, _):
                return .await(future)
            case .idle(let previousFailures, let retryAt):
                if let retryAt, retryAt > .now { return .wait(until: retryAt) }
                failures = previousFailures
            }
            let promise = eventLoop.makePromise(of: RedisConnection.self)
            // Registered before any waiter's, so the state is updated before waiters resume.
            promise.futureResult.whenComplete { result in self.connectFinished(result) }
            state = .connecting(promise.futureResult, failures: failures)
            return .connect(promise)
        }
    }

    private func connectFinished(_ result: Result<RedisConnection, any Error>) {
        let orphan: RedisConnection? = state.withLock { state in
            guard case .connecting(_, let failures) = state else {
                // Closed while connecting: the new connection has no owner.
                return try? result.get()
            }
            switch result {
            case .success(let connection):
                if failures > 0 {
                    logger.info("Reconnected to Redis", metadata: ["redis.endpoint": "\(configuration.host):\(configuration.port)"])
                }
                state = .connected(connection)
            case .failure(let error):
                let attempt = failures + 1
                let delay = Self.backoff(attempt: attempt, initial: configuration.reconnectInitialDelay, maximum: configuration.reconnectMaximumDelay)
                state = .idle(failures: attempt, retryAt: .now + delay)
                logger.log(
                    level: attempt == 1 ? .warning : .debug,
                    "Could not connect to Redis; retrying with backoff",
                    metadata: ["redis.endpoint": "\(configuration.host):\(configuration.port)", "redis.attempt": "\(attempt)", "error": "\(error)"])
            }
            return nil
        }
        orphan?.channel.close(promise: nil)
    }

    /// Closes the slot for good; waits for its connection (or connect attempt) to close.
    func close() async {
        let previous = state.withLock { state in
            defer { state = .closed }
            return state
        }
        switch previous {
        case .connected(let connection):
            await connection.close()
        case .connecting(let future, _):
            if let connection = try? await future.get() { await connection.close() }
        case .idle, .closed:
            break
        }
    }

    /// `initial * 2^(attempt-1)`, capped at `maximum`.
    static func backoff(attempt: Int, initial: Duration, maximum: Duration) -> Duration {
        var delay = initial
        for _ in 1..<max(attempt, 1) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}
