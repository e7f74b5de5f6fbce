/// Typed helpers for the commands the worker registry uses. Anything else: ``RedisClient/send(_:)``.
extension RedisClient {
    /// When `SET` should write the value.
    public enum SetCondition: Sendable, Hashable {
        /// Always (plain `SET`).
        case always
        /// Only if the key does not exist (`NX`).
        case ifNotExists
        /// Only if the key exists (`XX`).
        case ifExists
    }

    /// `PING`: returns `PONG`.
    public func ping() async throws(RedisError) -> String {
        let reply = try await send(["PING"])
        return try Self.expect(reply.string, reply, "PING")
    }

    /// `GET key`: the value, or `nil` if the key does not exist.
    public func get(_ key: String) async throws(RedisError) -> String? {
        let reply = try await send(["GET", key])
        if reply.isNull { return nil }
        return try Self.expect(reply.string, reply, "GET")
    }

    /// `MGET key...`: one value (or `nil`) per key, in order.
    public func mget(_ keys: [String]) async throws(RedisError) -> [String?] {
        guard !keys.isEmpty else { return [] }
        let reply = try await send(["MGET"] + keys)
        let elements = try Self.expect(reply.array, reply, "MGET")
        return elements.map { $0.isNull ? nil : $0.string }
    }

    /// `SET key value [PX ms] [NX|XX]`.
    /// - Parameters:
    ///   - expireMilliseconds: Time to live in milliseconds, or `nil` for no expiry.
    ///   - condition: Write only if the key does (not) exist.
    /// - Returns: Whether the value was written (`false` only when `condition` prevented it).
    @discardableResult
    public func set(
        _ key: String, _ value: String, expireMilliseconds: Int? = nil, condition: SetCondition = .always
    ) async throws(RedisError) -> Bool {
        var command = ["SET", key, value]
        if let expireMilliseconds { command += ["PX", String(expireMilliseconds)] }
        switch condition {
        case .always: break
        case .ifNotExists: command.append("NX")
        case .ifExists: command.append("XX")
        }
        let reply = try await send(command)
        if reply.isNull { return false }
        _ = try Self.expect(reply.string, reply, "SET")
        return true
    }

    /// `DEL key...`: the number of keys removed.
    @discardableResult
    public func del(_ keys: [String]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else { return 0 }
        let reply = try await send(["DEL"] + keys)
        return try Self.expect(reply.int, reply, "DEL")
    }

    /// `EXPIRE key seconds`: whether the key exists and got the timeout.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws(RedisError) -> Bool {
        let reply = try await send(["EXPIRE", key, String(seconds)])
        return try Self.expect(reply.int, reply, "EXPIRE") == 1
    }

    /// `PEXPIRE key milliseconds`: whether the key exists and got the timeout.
    @discardableResult
    public func pexpire(_ key: String, milliseconds: Int) async throws(RedisError) -> Bool {
        let reply = try await send(["PEXPIRE", key, String(milliseconds)])
        return try Self.expect(reply.int, reply, "PEXPIRE") == 1
    }

    /// `PTTL key`: milliseconds to live, `-1` without expiry, `-2` if the key does not exist.
    public func pttl(_ key: String) async throws(RedisError) -> Int {
        let reply = try await send(["PTTL", key])
        return try Self.expect(reply.int, reply, "PTTL")
    }

    /// `KEYS pattern`. Blocks the server while it walks the whole keyspace: prefer ``scan(match:count:)``.
    public func keys(_ pattern: String) async throws(RedisError) -> [String] {
        let reply = try await send(["KEYS", pattern])
        return try Self.expect(reply.array, reply, "KEYS").compactMap(\.string)
    }

    /// Walks the keyspace with `SCAN cursor MATCH pattern COUNT count` until the cursor returns to 0.
    ///
    /// Keys are de-duplicated (SCAN may return a key twice); keys added or removed during the walk
    /// may or may not be included.
    public func scan(match pattern: String = "*", count: Int = 100) async throws(RedisError) -> [String] {
        var cursor = "0"
        var seen = Set<String>()
        var keys: [String] = []
        repeat {
            let reply = try await send(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let batch = parts[1].array else {
                throw RedisError(.protocolError, "Unexpected reply to SCAN: \(reply)")
            }
            for key in batch.compactMap(\.string) where seen.insert(key).inserted {
                keys.append(key)
            }
            cursor = next
        } while cursor != "0"
        return keys
    }

    /// `HSET key field value...`: the number of fields that were added (not updated).
    @discardableResult
    public func hset(_ key: String, fields: [String: String]) async throws(RedisError) -> Int {
        guard !fields.isEmpty else { return 0 }
        var command = ["HSET", key]
        for (field, value) in fields.sorted(by: { $0.key < $1.key }) { command += [field, value] }
        let reply = try await send(command)
        return try Self.expect(reply.int, reply, "HSET")
    }

    /// `HGETALL key`: all fields and values; empty if the key does not exist.
    public func hgetall(_ key: String) async throws(RedisError) -> [String: String] {
        let reply = try await send(["HGETALL", key])
        let elements = try Self.expect(reply.array, reply, "HGETALL")
        guard elements.count.isMultiple(of: 2) else {
            throw RedisError(.protocolError, "HGETALL returned an odd number of elements (\(elements.count)).")
        }
        var result: [String: String] = [:]
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard let field = elements[index].string, let value = elements[index + 1].string else { continue }
            result[field] = value
        }
        return result
    }

    /// `PUBLISH channel message`: the number of subscribers that received it.
    @discardableResult
    public func publish(_ channel: String, _ message: String) async throws(RedisError) -> Int {
        let reply = try await send(["PUBLISH", channel, message])
        return try Self.expect(reply.int, reply, "PUBLISH")
    }

    private static func expect<T>(_ value: T?, _ reply: RESPValue, _ command: String) throws(RedisError) -> T {
        guard let value else {
            throw RedisError(.protocolError, "Unexpected reply to \(command): \(reply)")
        }
        return value
    }
}
