import DuplexRedis

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
