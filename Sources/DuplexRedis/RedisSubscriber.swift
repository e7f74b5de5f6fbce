import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Receives pub/sub messages on dedicated connections in subscribe mode.
///
/// Each ``subscribe(channels:onSubscribed:)`` opens its own connection. When the connection drops
/// (e.g. the server restarts), the subscriber reconnects with exponential backoff and subscribes
/// again. Redis pub/sub is at-most-once: messages published while disconnected are lost, so
/// `onSubscribed` (called after every successful (re)subscribe) is the place to re-read state.
///
/// ```swift
/// let subscriber = try RedisSubscriber(configuration: config)
/// let updates = subscriber.subscribe(channels: ["workers"]) {
///     // (re)subscribed: rescan the registry here
/// }
/// for try await update in updates {
///     print(update.channel, update.message)
/// }
/// ```
public final class RedisSubscriber: Sendable {
    private struct State {
        var isClosed = false
        var nextID = 0
        var tasks: [Int: Task<Void, Never>] = [:]
    }

    /// The configuration the subscriber was created with.
    public let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a subscriber; no connection is opened until ``subscribe(channels:onSubscribed:)``.
    /// - Throws: ``RedisError/Code/invalidConfiguration`` if the configuration is out of range.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "duplex.redis.subscriber")
    ) throws(RedisError) {
        try configuration.validate()
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Subscribes to `channels` and returns their messages.
    ///
    /// The subscription stops, and its connection closes, when the consuming task is cancelled,
    /// the returned sequence is dropped, or ``close()`` is called.
    /// - Parameters:
    ///   - channels: Channel names (not patterns); must not be empty.
    ///   - onSubscribed: Called each time the server confirmed all channels, first and after every
    ///     reconnect.
    public func subscribe(
        channels: [String],
        onSubscribed: (@Sendable () -> Void)? = nil
    ) -> RedisSubscription {
        precondition(!channels.isEmpty, "subscribe(channels:) needs at least one channel.")
        let (stream, continuation) = AsyncThrowingStream<RedisPubSubMessage, any Error>.makeStream()
        let task: Task<Void, Never>? = state.withLock { state in
            guard !state.isClosed else { return nil }
            let id = state.nextID
            state.nextID += 1
            // Unstructured on purpose: the subscription outlives this call. It is owned by the
            // returned stream (cancelled in onTermination) and by close(), which cancels and awaits it.
            let task = Task {
                await self.run(channels: channels, continuation: continuation, onSubscribed: onSubscribed)
                self.state.withLock { _ = $0.tasks.removeValue(forKey: id) }
            }
            state.tasks[id] = task
            return task
        }
        if let task {
            continuation.onTermination = { _ in task.cancel() }
        } else {
            continuation.finish(throwing: RedisError.clientClosed)
        }
        return RedisSubscription(stream: stream)
    }

    /// Ends all subscriptions (their sequences finish) and waits until their connections are closed.
    public func close() async {
        let tasks = state.withLock { state in
            state.isClosed = true
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    /// Connects, subscribes and forwards messages until cancelled; reconnects with backoff.
    private func run(
        channels: [String],
        continuation: AsyncThrowingStream<RedisPubSubMessage, any Error>.Continuation,
        onSubscribed: (@Sendable () -> Void)?
    ) async {
        let wanted = Set(channels)
        var failures = 0
        let metadata: Logger.Metadata = ["redis.endpoint": "\(configuration.host):\(configuration.port)", "redis.channels": "\(channels)"]
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(configuration: configuration, eventLoopGroup: eventLoopGroup)
                var confirmed = Set<String>()
                var fatal: RedisError?
                for await push in connection.subscribe(channels: channels) {
                    guard let parts = push.array, let kind = parts.first?.string?.lowercased() else {
                        if let message = push.errorMessage {
                            fatal = RedisError(.serverError, "SUBSCRIBE failed: \(message)")
                            break
                        }
                        continue
                    }
                    switch kind {
                    case "message" where parts.count == 3:
                        if let channel = parts[1].string, let message = parts[2].string {
                            continuation.yield(RedisPubSubMessage(channel: channel, message: message))
                        }
                    case "subscribe" where parts.count == 3:
                        if let channel = parts[1].string { confirmed.insert(channel) }
                        if confirmed == wanted {
                            failures = 0
                            logger.debug("Subscribed to Redis channels", metadata: metadata)
                            onSubscribed?()
                        }
                    default:
                        continue
                    }
                }
                // The pushes end when the connection closed or this task was cancelled.
                await connection.close()
                if let fatal {
                    continuation.finish(throwing: fatal)
                    return
                }
            } catch {
                if error.code == .authenticationFailed || error.code == .invalidConfiguration {
                    continuation.finish(throwing: error)
                    return
                }
                logger.log(level: failures == 0 ? .warning : .debug, "Redis subscription connect failed; retrying with backoff",
                           metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            if Task.isCancelled { break }
            failures += 1
            let delay = ConnectionSlot.backoff(
                attempt: failures, initial: configuration.reconnectInitialDelay, maximum: configuration.reconnectMaximumDelay)
            do {
                try await Task.sleep(for: delay)
            } catch {
                break
            }
        }
        continuation.finish()
    }
}
