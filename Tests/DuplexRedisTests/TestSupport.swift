import DuplexRedis

struct TestTimeoutError: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "The test did not finish within \(seconds) s" }
}

/// Runs `body`, failing with ``TestTimeoutError`` if it takes longer than `seconds`.
@discardableResult
func withTimeout<T: Sendable>(
    seconds: Double = 30,
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

/// Retries `body` until it succeeds, polling every 50 ms; rethrows the last error after `seconds`.
@discardableResult
func eventually<T: Sendable>(
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

/// Runs `body` with a client for `configuration`, closing it afterwards.
@discardableResult
func withClient<T: Sendable>(
    _ configuration: RedisConfiguration,
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = try RedisClient(configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

struct ConditionNotMet: Error, CustomStringConvertible {
    var description: String
}
