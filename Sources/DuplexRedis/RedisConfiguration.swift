import Foundation

/// Where and how to connect to a Redis server.
///
/// Usually parsed from a URL:
///
/// ```swift
/// var config = try RedisConfiguration(url: "redis://:secret@127.0.0.1:6379/2")
/// config.commandTimeout = .seconds(2)
/// let client = RedisClient(configuration: config)
/// ```
///
/// The description never contains the password, so a configuration can be logged.
public struct RedisConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The server's host name or IP address. Default `127.0.0.1`.
    public var host: String
    /// The server's TCP port. Default `6379`.
    public var port: Int
    /// The ACL user name (Redis 6+), or `nil` for the default user.
    public var username: String?
    /// The password sent with `AUTH` on connect, or `nil` for no authentication.
    public var password: String?
    /// The logical database selected with `SELECT` on connect. Default `0`.
    public var database: Int
    /// How long the TCP connect may take, and how long a command waits for a connection while the
    /// server is unreachable (retrying with backoff). The `AUTH`/`SELECT` handshake on connect is
    /// bounded by ``commandTimeout``. Default 5 s.
    public var connectTimeout: Duration
    /// How long a command may wait for its reply once sent. A timeout closes the connection
    /// (its replies can no longer be matched) and the next command opens a new one. Default 5 s.
    public var commandTimeout: Duration
    /// The most connections a ``RedisClient`` opens; they are opened lazily. Default 4.
    public var poolSize: Int
    /// The first delay between reconnect attempts; it doubles after each failure. Default 50 ms.
    public var reconnectInitialDelay: Duration
    /// The longest delay between reconnect attempts. Default 2 s.
    public var reconnectMaximumDelay: Duration
    /// TLS (`rediss://`), or `nil` for plain TCP. Default `nil`.
    public var tls: RedisTLS?

    /// Creates a configuration; every parameter has the documented default.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        poolSize: Int = 4,
        reconnectInitialDelay: Duration = .milliseconds(50),
        reconnectMaximumDelay: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.poolSize = poolSize
        self.reconnectInitialDelay = reconnectInitialDelay
        self.reconnectMaximumDelay = reconnectMaximumDelay
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS with
    /// optional query parameters (redis-py's names): `ssl_ca_certs` (PEM CA bundle; default the
    /// system's roots), `ssl_certfile` and `ssl_keyfile` (a client certificate, for servers with
    /// `tls-auth-clients yes`).
    ///
    /// User name and password may be percent-encoded. Timeouts and pool size keep their defaults.
    /// - Throws: ``RedisError/Code/invalidConfiguration`` for anything that is not a valid Redis URL.
    public init(url: String) throws(RedisError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw RedisError(.invalidConfiguration, "'\(Self.redacted(url))' is not a URL; expected redis://[:password@]host[:port][/db].")
        }
        self.init()
        switch scheme {
        case "redis":
            break
        case "rediss":
            var tls = RedisTLS()
            for item in components.queryItems ?? [] {
                let value = item.value ?? ""
                switch item.name {
                case "ssl_ca_certs": tls.caFile = value
                case "ssl_certfile": tls.certificateFile = value
                case "ssl_keyfile": tls.keyFile = value
                default:
                    throw RedisError(.invalidConfiguration, "Unknown Redis URL parameter '\(item.name)'; known: ssl_ca_certs, ssl_certfile, ssl_keyfile.")
                }
            }
            guard (tls.certificateFile == nil) == (tls.keyFile == nil) else {
                throw RedisError(.invalidConfiguration, "ssl_certfile and ssl_keyfile go together in the Redis URL.")
            }
            self.tls = tls
        default:
            throw RedisError(.invalidConfiguration, "Unsupported URL scheme '\(scheme)'; expected redis://[:password@]host[:port][/db] or rediss://….")
        }
        var host = components.host ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            throw RedisError(.invalidConfiguration, "The Redis URL '\(Self.redacted(url))' has no host.")
        }
        self.host = host
        if let port = components.port {
            guard (1...65535).contains(port) else {
                throw RedisError(.invalidConfiguration, "The Redis URL's port \(port) is out of range 1...65535.")
            }
            self.port = port
        }
        if let user = components.user, !user.isEmpty { self.username = user }
        if let password = components.password, !password.isEmpty { self.password = password }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let database = Int(path), database >= 0 else {
                throw RedisError(.invalidConfiguration, "The Redis URL's path '/\(path)' is not a database number (e.g. /0).")
            }
            self.database = database
        }
    }

    /// Checks ranges; called by ``RedisClient`` and ``RedisSubscriber`` before first use.
    public func validate() throws(RedisError) {
        guard !host.isEmpty else { throw RedisError(.invalidConfiguration, "host must not be empty.") }
        guard (1...65535).contains(port) else { throw RedisError(.invalidConfiguration, "port \(port) is out of range 1...65535.") }
        guard database >= 0 else { throw RedisError(.invalidConfiguration, "database must be >= 0, got \(database).") }
        guard connectTimeout > .zero else { throw RedisError(.invalidConfiguration, "connectTimeout must be > 0.") }
        guard commandTimeout > .zero else { throw RedisError(.invalidConfiguration, "commandTimeout must be > 0.") }
        guard poolSize >= 1 else { throw RedisError(.invalidConfiguration, "poolSize must be >= 1, got \(poolSize).") }
        guard reconnectInitialDelay > .zero, reconnectMaximumDelay >= reconnectInitialDelay else {
            throw RedisError(.invalidConfiguration, "reconnect delays must satisfy 0 < reconnectInitialDelay <= reconnectMaximumDelay.")
        }
    }

    /// The URL form without the password, e.g. `redis://:***@127.0.0.1:6379/0`.
    public var description: String {
        let credentials: String
        switch (username, password) {
        case (nil, nil): credentials = ""
        case (let user?, nil): credentials = "\(user)@"
        case (let user, _?): credentials = "\(user ?? ""):***@"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(tls == nil ? "redis" : "rediss")://\(credentials)\(hostPart):\(port)/\(database)"
    }

    private static func redacted(_ url: String) -> String {
        // Hide anything between "://" and "@" so a password never reaches a log line.
        guard let schemeEnd = url.range(of: "://"), let at = url.range(of: "@", range: schemeEnd.upperBound..<url.endIndex) else {
            return url
        }
        return url.replacingCharacters(in: schemeEnd.upperBound..<at.lowerBound, with: "***")
    }
}

/// TLS settings of a Redis connection (`rediss://`).
public struct RedisTLS: Sendable, Hashable {
    /// PEM CA bundle the server's certificate must chain to; `nil`: the system's roots.
    public var caFile: String?
    /// PEM client certificate chain, for servers that require one.
    public var certificateFile: String?
    /// PEM private key of ``certificateFile``.
    public var keyFile: String?

    /// Creates the settings.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
