import DuplexRegistry

/// A test body ran out of time.
public struct TestTimeoutError: Error, CustomStringConvertible {
    /// The limit.
    public var seconds: Double
    /// What went wrong.
    public var description: String { "The test did not finish within \(seconds) s" }
}

/// A polled condition never held.
public struct ConditionNotMet: Error, CustomStringConvertible {
    /// What was awaited.
    public var description: String

    /// Creates the error.
    public init(description: String) {
        self.description = description
    }
}

/// Runs `body`, failing with ``TestTimeoutError`` if it takes longer than `seconds`.
@discardableResult
public func withTimeout<T: Sendable>(
    seconds: Double = 60,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TestTimeoutError(seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `condition` every 50 ms until it holds; throws ``ConditionNotMet`` after `seconds`.
public func waitUntil(
    _ what: String,
    seconds: Double = 15,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        if (try? await condition()) == true { return }
        if ContinuousClock.now >= deadline { throw ConditionNotMet(description: "Timed out after \(seconds) s waiting for: \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// Retries `body` until it succeeds, polling every 50 ms; rethrows the last error after `seconds`.
@discardableResult
public func eventually<T: Sendable>(
    seconds: Double = 10,
    _ body: @Sendable () async throws -> T
) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now >= deadline { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension RedisServerProcess {
    /// Polls this server's registry (`duplex` prefix) until `condition` holds on the live
    /// workers (through `url`, default ``url``); returns them, or throws ``ConditionNotMet``
    /// after `seconds`.
    @discardableResult
    public func waitForRegistry(
        seconds: Double = 30, _ what: String, url: String? = nil, _ condition: @escaping ([WorkerRecord]) -> Bool
    ) async throws -> [WorkerRecord] {
        let configuration = RegistryConfiguration(redisURL: url ?? self.url)
        var workers: [WorkerRecord] = []
        do {
            try await waitUntil(what, seconds: seconds) {
                workers = (try? await RegistrySnapshot.read(configuration)) ?? []
                return condition(workers)
            }
        } catch {
            throw ConditionNotMet(description: "\(error); registry: \(workers.map { "\($0.name) ready=\($0.ready)" })")
        }
        return workers
    }
}
