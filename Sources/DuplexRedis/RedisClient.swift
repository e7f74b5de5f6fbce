import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A Redis client with a small pool of pipelined connections.
///
/// Connections are opened lazily, up to ``RedisConfiguration/poolSize``: a command goes to an idle
/// open connection if there is one, else to an unopened slot, else to the least busy connection
/// (where it is pipelined behind the others). When the server goes away, the next command re-opens
/// the connection, retrying with exponential backoff (capped at
/// ``RedisConfiguration/reconnectMaximumDelay``) for up to ``RedisConfiguration/connectTimeout``;
/// so after a server restart commands succeed again without re-creating the client.
///
/// Commands in flight when a connection drops fail with ``RedisError/Code/connectionClosed`` and
/// are not retried (they may have run).
///
/// ```swift
/// let client = try RedisClient(url: "redis://127.0.0.1:6379")
/// try await client.set("worker:a", "{\"port\":9000}", expireMilliseconds: 5_000)
/// let value = try await client.get("worker:a")
/// await client.close()
/// ```
public final class RedisClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: RedisConfiguration
    private let slots: [ConnectionSlot]

    /// Creates a client; no connection is opened until the first command.
    /// - Parameters:
    ///   - configuration: Where to connect; validated here.
    ///   - eventLoopGroup: The group whose event loops run the connections.
    ///   - logger: Receives connect failures and reconnects (never the password).
    /// - Throws: ``RedisError/Code/invalidConfiguration`` if the configuration is out of range.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "duplex.redis")
    ) throws(RedisError) {
        try configuration.validate()
        self.configuration = configuration
        self.slots = (0..<configuration.poolSize).map { _ in
            ConnectionSlot(configuration: configuration, eventLoop: eventLoopGroup.next(), logger: logger)
        }
    }

    /// Creates a client from a `redis://` URL with default timeouts and pool size.
    public convenience init(
        url: String,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "duplex.redis")
    ) throws(RedisError) {
        try self.init(configuration: RedisConfiguration(url: url), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Sends one command, e.g. `["HINCRBY", "stats", "sessions", "1"]`, and returns its reply.
    /// - Throws: ``RedisError/Code/serverError`` for an error reply; ``RedisError/Code/timeout``,
    ///   ``RedisError/Code/connectionFailed``, ``RedisError/Code/connectionClosed`` for
    ///   connection problems; ``RedisError/Code/closed`` after ``close()``.
    public func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        precondition(!command.isEmpty, "A Redis command needs at least a name.")
        let slot = pickSlot()
        slot.inFlight.add(1, ordering: .relaxed)
        defer { slot.inFlight.subtract(1, ordering: .relaxed) }
        let connection = try await slot.connection(deadline: .now + configuration.connectTimeout)
        return try await connection.send(command)
    }

    /// Sends all commands on one connection in a single write and returns the replies in order.
    ///
    /// Error replies are returned in place as ``RESPValue/error(_:)``; connection problems fail the
    /// whole batch.
    public func sendPipelined(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        precondition(!commands.contains(where: \.isEmpty), "A Redis command needs at least a name.")
        let slot = pickSlot()
        slot.inFlight.add(1, ordering: .relaxed)
        defer { slot.inFlight.subtract(1, ordering: .relaxed) }
        let connection = try await slot.connection(deadline: .now + configuration.connectTimeout)
        return try await connection.sendPipelined(commands)
    }

    /// Closes all connections and waits until they are closed. Later commands fail with
    /// ``RedisError/Code/closed``. Safe to call more than once.
    public func close() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in slots {
                group.addTask { await slot.close() }
            }
        }
    }

    /// An idle open connection first, then an unopened slot (grows the pool lazily), then the
    /// least busy connection.
    private func pickSlot() -> ConnectionSlot {
        var best = slots[0]
        var bestLoad = Int.max
        for slot in slots {
            let load = slot.inFlight.load(ordering: .relaxed)
            if load == 0, slot.isConnected { return slot }
            if load < bestLoad {
                best = slot
                bestLoad = load
            }
        }
        return best
    }
}
