import NIOCore
import NIOPosix
import NIOSSL

/// One connection to Redis: a single NIO channel with pipelining.
///
/// Many commands may be in flight at once; replies are matched to commands in order. `AUTH` and
/// `SELECT` are sent on connect. When the connection closes, every command in flight fails with
/// ``RedisError/Code/connectionClosed`` (or ``RedisError/Code/timeout`` if a timeout closed it).
/// Most code should use ``RedisClient``, which pools and re-opens connections.
///
/// ```swift
/// let connection = try await RedisConnection.connect(configuration: config)
/// let replies = try await connection.sendPipelined([["INCR", "a"], ["INCR", "b"]])
/// await connection.close()
/// ```
public final class RedisConnection: Sendable {
    /// The configuration this connection was opened with.
    public let configuration: RedisConfiguration
    let channel: any Channel

    private init(channel: any Channel, configuration: RedisConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// Whether the underlying channel is still open.
    public var isActive: Bool { channel.isActive }

    /// Opens a connection, authenticates and selects the database.
    /// - Throws: ``RedisError/Code/connectionFailed`` if the server cannot be reached,
    ///   ``RedisError/Code/authenticationFailed`` if `AUTH` is rejected,
    ///   ``RedisError/Code/timeout`` if the handshake is not answered in time.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        try configuration.validate()
        return try await awaitFuture(make(configuration: configuration, eventLoop: eventLoopGroup.next()))
    }

    /// Sends one command and waits for its reply.
    /// - Throws: ``RedisError/Code/serverError`` if the server answers with an error reply, and the
    ///   connection errors described on the type.
    public func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        let replies = try await Self.awaitFuture(sendFuture([command]))
        if case .error(let message) = replies[0] {
            throw RedisError(.serverError, message)
        }
        return replies[0]
    }

    /// Writes all commands in one flush and returns their replies in order. Error replies are
    /// returned in place as ``RESPValue/error(_:)``, so one failing command does not hide the rest.
    public func sendPipelined(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        return try await Self.awaitFuture(sendFuture(commands))
    }

    /// Closes the connection and waits until the channel is closed. Safe to call more than once.
    public func close() async {
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }

    // MARK: Internals

    static func make(configuration: RedisConfiguration, eventLoop: any EventLoop) -> EventLoopFuture<RedisConnection> {
        let commandTimeout = TimeAmount(configuration.commandTimeout)
        let endpoint = "\(configuration.host):\(configuration.port)"
        var tls: (context: NIOSSLContext, hostname: String?)?
        if let settings = configuration.tls {
            do {
                tls = (try settings.context(), Self.isIPAddress(configuration.host) ? nil : configuration.host)
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        let handshakeTLS = tls
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = handshakeTLS {
                        // An IP address is not a valid SNI name; the certificate is then checked
                        // against the address itself.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.hostname))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder()),
                        RedisCommandHandler(commandTimeout: commandTimeout))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in
                throw RedisError(.connectionFailed, "Could not connect to Redis at \(endpoint): \(error). Is the server running?", cause: error)
            }
            .flatMap { channel in
                let connection = RedisConnection(channel: channel, configuration: configuration)
                return connection.handshake()
                    .map { connection }
                    .flatMapError { error in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
            }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    private func handshake() -> EventLoopFuture<Void> {
        var commands: [[String]] = []
        if let password = configuration.password {
            commands.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if configuration.database != 0 {
            commands.append(["SELECT", String(configuration.database)])
        }
        guard !commands.isEmpty else { return channel.eventLoop.makeSucceededVoidFuture() }
        let database = configuration.database
        let names = commands.map { $0[0] }
        return sendFuture(commands).flatMapThrowing { replies in
            for (name, reply) in zip(names, replies) {
                guard case .error(let message) = reply else { continue }
                if name == "AUTH" {
                    // Never echo the command: it holds the password.
                    throw RedisError(.authenticationFailed, "Redis rejected the credentials: \(message). Check the password in the Redis URL.")
                }
                throw RedisError(.serverError, "SELECT \(database) failed: \(message)")
            }
        }
    }

    /// Writes commands in one flush; the future holds one reply per command.
    func sendFuture(_ commands: [[String]]) -> EventLoopFuture<[RESPValue]> {
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RESPEncoder.encode(command, into: &buffer) }
        let eventLoop = channel.eventLoop
        let promises = commands.map { _ in eventLoop.makePromise(of: RESPValue.self) }
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            // E.g. the channel closed before the handler saw the request; completing a promise
            // the handler already failed is a no-op in NIO.
            let failure = RedisError.wrapping(error, as: .connectionClosed, "Could not write to Redis: the connection is closed.")
            for promise in promises { promise.fail(failure) }
        }
        channel.writeAndFlush(RedisRequest.commands(buffer, promises), promise: written)
        return EventLoopFuture.whenAllSucceed(promises.map(\.futureResult), on: eventLoop)
    }

    /// Switches the connection to subscribe mode; every later inbound value is yielded to the
    /// returned stream, which finishes when the connection closes.
    func subscribe(channels: [String]) -> AsyncStream<RESPValue> {
        let (stream, continuation) = AsyncStream<RESPValue>.makeStream()
        var buffer = channel.allocator.buffer(capacity: 64)
        RESPEncoder.encode(["SUBSCRIBE"] + channels, into: &buffer)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in continuation.finish() }
        channel.writeAndFlush(RedisRequest.subscribe(buffer, continuation), promise: written)
        return stream
    }

    static func awaitFuture<Value: Sendable>(_ future: EventLoopFuture<Value>) async throws(RedisError) -> Value {
        do {
            return try await future.get()
        } catch {
            throw RedisError.wrapping(error, as: .connectionClosed, "The connection to Redis failed.")
        }
    }
}

extension RedisTLS {
    /// The client TLS context: full verification against ``caFile`` (or the system's roots),
    /// with the client certificate when one is configured.
    /// - Throws: ``RedisError/Code/invalidConfiguration`` naming a file that does not load.
    func context() throws(RedisError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            if let certificateFile, let keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(
                .invalidConfiguration,
                "The Redis TLS files do not load (ssl_ca_certs \(caFile ?? "-"), ssl_certfile \(certificateFile ?? "-"), ssl_keyfile \(keyFile ?? "-")): \(error)",
                cause: error)
        }
    }
}
