import DuplexRedis

/// Where the worker registry lives and how often it is refreshed.
///
/// Keys and channel (with the default prefix `duplex`):
/// - `duplex:worker:<name>`: the ``WorkerRecord`` JSON, written with a `PX` time to live of ``ttl``
///   and re-written every ``heartbeatInterval``; a crashed worker disappears after at most ``ttl``.
/// - `duplex:workers`: pub/sub channel carrying ``RegistryEvent`` JSON (`up`, `update`, `down`).
///
/// ```swift
/// var config = RegistryConfiguration(redisURL: "redis://127.0.0.1:6379")
/// config.heartbeatInterval = .seconds(5)
/// try config.validate()
/// ```
public struct RegistryConfiguration: Sendable, Hashable {
    /// The Redis server, as `redis://[[user]:password@]host[:port][/db]`.
    public var redisURL: String
    /// Prefix of every key and channel the registry uses. Default `duplex`.
    public var keyPrefix: String
    /// How often a worker re-writes its record (and refreshes its TTL). Default 10 s.
    public var heartbeatInterval: Duration
    /// How long a record lives without a heartbeat; must exceed ``heartbeatInterval``. Default 30 s.
    public var ttl: Duration
    /// How often the watcher re-reads all records as a safety net (lost events, expired keys).
    /// Default 15 s.
    public var rescanInterval: Duration

    /// Creates a configuration; every parameter but the URL has the documented default.
    public init(
        redisURL: String,
        keyPrefix: String = "duplex",
        heartbeatInterval: Duration = .seconds(10),
        ttl: Duration = .seconds(30),
        rescanInterval: Duration = .seconds(15)
    ) {
        self.redisURL = redisURL
        self.keyPrefix = keyPrefix
        self.heartbeatInterval = heartbeatInterval
        self.ttl = ttl
        self.rescanInterval = rescanInterval
    }

    /// The key holding a worker's record: `<prefix>:worker:<name>`.
    public func workerKey(_ name: String) -> String {
        "\(keyPrefix):worker:\(name)"
    }

    /// The worker's name for a key returned by ``workerKey(_:)``, or `nil` for another key.
    public func workerName(forKey key: String) -> String? {
        let prefix = workerKey("")
        guard key.hasPrefix(prefix), key.count > prefix.count else { return nil }
        return String(key.dropFirst(prefix.count))
    }

    /// The `SCAN MATCH` pattern for all worker keys: `<prefix>:worker:*` (glob characters in the
    /// prefix escaped).
    public var workerKeyPattern: String {
        Self.escapeGlob(workerKey("")) + "*"
    }

    /// The pub/sub channel for ``RegistryEvent``s: `<prefix>:workers`.
    public var channel: String {
        "\(keyPrefix):workers"
    }

    /// The TTL in whole milliseconds, as sent with `SET ... PX`.
    public var ttlMilliseconds: Int {
        Self.milliseconds(ttl)
    }

    /// Checks ranges and parses the Redis URL.
    /// - Returns: The Redis connection settings from ``redisURL``.
    /// - Throws: ``RegistryError/Code/invalidConfiguration`` naming the `registry.*` key at fault.
    @discardableResult
    public func validate() throws(RegistryError) -> RedisConfiguration {
        guard !keyPrefix.isEmpty else {
            throw RegistryError(.invalidConfiguration, "registry.key_prefix must not be empty.")
        }
        guard heartbeatInterval >= .milliseconds(10) else {
            throw RegistryError(.invalidConfiguration, "registry.heartbeat_ms must be >= 10, got \(Self.milliseconds(heartbeatInterval)).")
        }
        guard ttl > heartbeatInterval else {
            throw RegistryError(
                .invalidConfiguration,
                "registry.ttl_ms (\(ttlMilliseconds)) must be greater than registry.heartbeat_ms (\(Self.milliseconds(heartbeatInterval))), ideally 3x, or live workers expire.")
        }
        guard rescanInterval >= .milliseconds(10) else {
            throw RegistryError(.invalidConfiguration, "registry.rescan_ms must be >= 10, got \(Self.milliseconds(rescanInterval)).")
        }
        do {
            return try RedisConfiguration(url: redisURL)
        } catch {
            throw RegistryError(.invalidConfiguration, "registry.redis_url is invalid: \(error.message)", cause: error)
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    private static func escapeGlob(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
